package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/paybridge/paybridge/clock"
	"github.com/paybridge/paybridge/compliance"
	"github.com/paybridge/paybridge/ecosystem"
	"github.com/paybridge/paybridge/ledger"
	"github.com/paybridge/paybridge/money"
	"github.com/paybridge/paybridge/payment"
	"github.com/paybridge/paybridge/store/sqlite"
)

func init() {
	cmd := &cobra.Command{
		Use:   "holders",
		Short: "Add holders and open their accounts in a ledger; list every holder",
		Long: `A ledger's holders are the ecosystem file's (seeded on first use) and those
added later: with 'paybridge holders add', or with POST /v1/holders on a
server. An added holder is one ledger commit — its record, its accounts and
their opening balances, all or none — so it survives restarts, and every
command that opens the ledger (serve, pay, payments, holders) sees it.

An opening balance is funded from the institution's external (issuance)
account, as the seeding funds the ecosystem's holders, so the books still
balance ('paybridge ledger verify', 'paybridge payments books').

add and open write to the ledger: do not run them on a file a running
server uses (the server keeps the ledger in memory); use the server's
POST /v1/holders and POST /v1/holders/{id}/accounts instead.`,
	}
	cmd.AddCommand(newHoldersAddCmd(), newHoldersOpenCmd(), newHoldersListCmd())
	root.AddCommand(cmd)
}

// holderOut is a holder as holders add and list print it.
type holderOut struct {
	ecosystem.Holder
	Source   string        `json:"source"` // "ecosystem" (the file) or "added"
	Accounts []accountLine `json:"accounts"`
}

type accountLine struct {
	Product     string `json:"product"`
	Institution string `json:"institution"`
	BalanceFen  int64  `json:"balance_fen"`
	Balance     string `json:"balance"`
}

func newHoldersAddCmd() *cobra.Command {
	var f worldFlags
	var h ecosystem.Holder
	var open []string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "add --db FILE --id ID --name NAME --kind person|merchant [--kyc-level N] [--open PRODUCT[=YUAN],...]",
		Short: "Add a holder, with accounts and opening balances, in one ledger commit",
		Long: `add records a new holder in the ledger and opens the accounts --open names,
each at zero or at the opening balance after '=' (yuan; stored-value and
deposit products only, within their balance cap). A product must be one the
ecosystem allows the holder: its holder_kind, its holders list and, for
tiered products, a class for the holder's --kyc-level.

The ledger is created and seeded first if --db does not exist (as pay does).
Not while a server runs on --db: use POST /v1/holders there.`,
		Example: `  paybridge holders add --db /tmp/pb.db --id alice --name Alice --kind person --kyc-level 2 \
    --open alipay.balance=500,alipay.huabei,wechat.change
  paybridge holders add --db /tmp/pb.db --id shop2 --name "Noodle shop 2" --kind merchant --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opens, err := parseOpenings(open)
			if err != nil {
				return err
			}
			return withWorld(cmd, f, false, func(ctx context.Context, w *world) error {
				accs, err := w.x.AddHolder(ctx, h, opens)
				if err != nil {
					return holderCLIError(err)
				}
				return printHolder(cmd.OutOrStdout(), holderOut{Holder: h, Source: "added", Accounts: accountLines(accs)}, asJSON)
			})
		},
	}
	fl := cmd.Flags()
	f.register(fl)
	fl.StringVar(&h.ID, "id", "", "the holder's id: letters, digits, '_' and '-' (required)")
	fl.StringVar(&h.Name, "name", "", "the holder's real name (required)")
	fl.StringVar(&h.Kind, "kind", "", "person or merchant (required)")
	fl.IntVar(&h.KYCLevel, "kyc-level", 0, "identity-verification level, 0 (none) to 3 (full)")
	fl.StringSliceVar(&open, "open", nil, "accounts to open: PRODUCT or PRODUCT=YUAN (an opening balance), comma-separated")
	fl.BoolVar(&asJSON, "json", false, `print {"id","name","kind","kyc_level","source","accounts":[…]} as JSON`)
	return cmd
}

func newHoldersOpenCmd() *cobra.Command {
	var f worldFlags
	var id string
	var open []string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "open --db FILE --id ID --open PRODUCT[=YUAN],...",
		Short: "Open more accounts of a holder (of the ecosystem file or added)",
		Long: `open opens the accounts --open names for holder --id, in one ledger commit,
at zero or at the opening balance after '=' (yuan). An account that is open
already is an error, and then nothing is opened.
Not while a server runs on --db: use POST /v1/holders/{id}/accounts there.`,
		Example: `  paybridge holders open --db /tmp/pb.db --id alice --open icbc.debit=1000,ecny.wallet`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if id == "" {
				return usageErrorf("--id: required: the holder whose accounts to open")
			}
			opens, err := parseOpenings(open)
			if err != nil {
				return err
			}
			if len(opens) == 0 {
				return usageErrorf("--open: required: PRODUCT or PRODUCT=YUAN, comma-separated")
			}
			return withWorld(cmd, f, true, func(ctx context.Context, w *world) error {
				if _, err := w.x.OpenAccounts(ctx, id, opens); err != nil {
					return holderCLIError(err)
				}
				for _, out := range listHolders(w) {
					if out.ID == id {
						return printHolder(cmd.OutOrStdout(), out, asJSON)
					}
				}
				return nil
			})
		},
	}
	fl := cmd.Flags()
	f.register(fl)
	fl.StringVar(&id, "id", "", "the holder (required)")
	fl.StringSliceVar(&open, "open", nil, "accounts to open: PRODUCT or PRODUCT=YUAN, comma-separated (required)")
	fl.BoolVar(&asJSON, "json", false, "print the holder with all its accounts as JSON")
	return cmd
}

func newHoldersListCmd() *cobra.Command {
	var f worldFlags
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list --db FILE [--json]",
		Short: "List every holder of a ledger with its accounts and balances",
		Long: `list prints the ecosystem file's holders and those added (source "added"),
each with its open accounts and balances. It only reads the ledger.`,
		Example: `  paybridge holders list --db /tmp/pb.db
  paybridge holders list --db /tmp/pb.db --json | jq '.holders[] | select(.source == "added") | .id'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			w, err := openExisting(cmd, f, clock.Spec{Kind: "virtual"}, true)
			if err != nil {
				return err
			}
			defer w.close()
			hs := listHolders(w)
			if asJSON {
				return writeJSON(cmd.OutOrStdout(), map[string]any{"ecosystem": w.eco.ID, "holders": hs})
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tKIND\tKYC\tSOURCE\tACCOUNTS\tNAME")
			for _, h := range hs {
				fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%d\t%s\n", h.ID, h.Kind, h.KYCLevel, h.Source, len(h.Accounts), h.Name)
			}
			return tw.Flush()
		},
	}
	f.register(cmd.Flags())
	cmd.Flags().BoolVar(&asJSON, "json", false, `print {"ecosystem","holders":[{"id","name","kind","kyc_level","source","accounts":[…]}]}`)
	return cmd
}

// withWorld opens the ledger (creating and seeding it unless mustExist)
// and runs do with it.
func withWorld(cmd *cobra.Command, f worldFlags, mustExist bool, do func(context.Context, *world) error) error {
	ctx := cmd.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	w, err := openWorld(ctx, cmd, f, compliance.PolicyStrict, clock.Spec{Kind: "virtual"}, mustExist, false, time.Time{})
	if err != nil {
		return err
	}
	defer w.close()
	return do(ctx, w)
}

// parseOpenings parses --open's PRODUCT[=YUAN] items.
func parseOpenings(items []string) ([]payment.Opening, error) {
	var out []payment.Opening
	for _, it := range items {
		product, yuan, hasAmount := strings.Cut(strings.TrimSpace(it), "=")
		o := payment.Opening{Product: product}
		if hasAmount {
			fen, err := money.ParseYuan(yuan)
			if err != nil {
				return nil, usageErrorf("--open %s: the opening balance: %v", it, err)
			}
			o.OpeningFen = fen
		}
		out = append(out, o)
	}
	return out, nil
}

// holderCLIError maps AddHolder's and OpenAccounts' errors to usage errors
// naming the flag.
func holderCLIError(err error) error {
	var re *payment.RequestError
	switch {
	case errors.As(err, &re):
		flag := map[string]string{"id": "--id", "name": "--name", "kind": "--kind", "kyc_level": "--kyc-level", "accounts": "--open"}[re.Field]
		if flag == "" {
			flag = "--open" // accounts[i].product, accounts[i].opening_balance_fen
		}
		return usageErrorf("%s: %s", flag, re.Reason)
	case errors.Is(err, payment.ErrHolderExists):
		return usageErrorf("--id: %s", strings.TrimPrefix(err.Error(), "payment: "))
	case errors.Is(err, payment.ErrNoHolder):
		return usageErrorf("--id: %s ('paybridge holders list' lists them)", strings.TrimPrefix(err.Error(), "payment: "))
	case errors.Is(err, payment.ErrAccountExists):
		return usageErrorf("--open: %s", strings.TrimPrefix(err.Error(), "payment: "))
	}
	return err
}

// listHolders returns every holder of the world with its open accounts.
func listHolders(w *world) []holderOut {
	eco := w.x.Ecosystem()
	added := map[string]bool{}
	for _, h := range w.x.AddedHolders() {
		added[h.ID] = true
	}
	out := make([]holderOut, 0, len(eco.Holders))
	for _, h := range eco.Holders {
		o := holderOut{Holder: h, Source: "ecosystem", Accounts: []accountLine{}}
		if added[h.ID] {
			o.Source = "added"
		}
		var accs []ledger.Account
		for _, pid := range eco.ProductIDs() {
			if a, ok := w.led.Account(payment.HolderAccount(h.ID, pid)); ok {
				accs = append(accs, a)
			}
		}
		o.Accounts = append(o.Accounts, accountLines(accs)...)
		out = append(out, o)
	}
	return out
}

func accountLines(as []ledger.Account) []accountLine {
	out := make([]accountLine, len(as))
	for i, a := range as {
		out[i] = accountLine{Product: a.Product, Institution: a.Institution, BalanceFen: a.BalanceFen, Balance: money.FormatYuan(a.BalanceFen)}
	}
	return out
}

// printHolder prints one holder and its accounts.
func printHolder(wr io.Writer, h holderOut, asJSON bool) error {
	if asJSON {
		return writeJSON(wr, h)
	}
	fmt.Fprintf(wr, "holder %s (%s, %s, KYC level %d): %s\n", h.ID, h.Kind, h.Source, h.KYCLevel, h.Name)
	tw := tabwriter.NewWriter(wr, 0, 0, 2, ' ', 0)
	for _, a := range h.Accounts {
		fmt.Fprintf(tw, "  %s\t%s\t%s yuan\n", a.Product, a.Institution, a.Balance)
	}
	return tw.Flush()
}

// addedHolder reports whether holder was added to the ledger in file db
// (paybridge holders add, POST /v1/holders). It reads the holder records
// only, without opening a ledger engine on the file nor indexing it, so
// it is safe while a server runs on db; a missing file or one that is not
// a ledger has none.
func addedHolder(ctx context.Context, db, holder string) bool {
	if ctx == nil {
		ctx = context.Background()
	}
	s, err := sqlite.Open(db, sqlite.Options{MustExist: true, IdleIndex: -1})
	if err != nil {
		return false
	}
	defer s.Close()
	hs, err := payment.ReadHolders(ctx, s)
	if err != nil {
		return false
	}
	return slices.ContainsFunc(hs, func(h ecosystem.Holder) bool { return h.ID == holder })
}
