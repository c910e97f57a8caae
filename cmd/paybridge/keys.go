package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/paybridge/paybridge/api"
	"github.com/paybridge/paybridge/auth"
)

var keysCmd = &cobra.Command{
	Use:   "keys",
	Short: "Create, list and revoke the API keys of a server's database",
	Long: `The HTTP API (paybridge serve) authenticates every /v1 request by an API key
sent as "Authorization: Bearer KEY". Keys live in the server's ledger file
(--db), in a table of their own: only a SHA-256 hash of each key is stored,
so a key is shown once, when it is created, and cannot be recovered.

Roles:
  admin     everything, including creating keys (POST /v1/keys)
  operator  one institution (--institution): its accounts and the payments that touch it
  holder    one holder (--holder): its own accounts and payments
  auditor   read-only, everything

The commands work while the server runs. A key created here is accepted at
once; a key revoked here is refused by a running server within 2 seconds
(the time it trusts a key it has already checked).`,
}

func init() {
	keysCmd.AddCommand(newKeysCreateCmd(), newKeysListCmd(), newKeysRevokeCmd())
	root.AddCommand(keysCmd)
}

// keyView is what keys create --json and keys list --json print per key.
type keyView struct {
	Key         string `json:"key,omitempty"`
	KeyID       string `json:"key_id"`
	Role        string `json:"role"`
	Institution string `json:"institution,omitempty"`
	Holder      string `json:"holder,omitempty"`
}

func viewKey(p auth.Principal) keyView {
	return keyView{KeyID: p.KeyID, Role: string(p.Role), Institution: p.Institution, Holder: p.Holder}
}

func newKeysCreateCmd() *cobra.Command {
	var db, role, institution, holder, eco string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "create --db FILE --role ROLE [--institution ID] [--holder ID]",
		Short: "Create an API key and print it (once)",
		Long: `create makes a new API key with a role and prints it on stdout; the
key id and role go to stderr. The key is shown this once: store it.

An operator key needs --institution, a holder key --holder; admin and auditor
keys take neither. --institution and --holder are checked against the world
of --ecosystem (default cn-2023), which must be the world the server runs:
an institution id like alipay or icbc, a holder id like me or friend
('paybridge ecosystem show' lists them), or a holder added to --db with
POST /v1/holders or 'paybridge holders add' (read from the file, also
while the server runs).

If --db does not exist it is created holding only the key table; paybridge
serve --db FILE then seeds the ledger in it and, since a key exists, prints
no admin key of its own.`,
		Example: `  # An admin key for a new server, then start it
  KEY=$(paybridge keys create --db /tmp/pb.db --role admin)
  paybridge serve --db /tmp/pb.db &
  curl -s -H "Authorization: Bearer $KEY" localhost:8080/v1/clock

  # An operator of one institution, as JSON
  paybridge keys create --db /tmp/pb.db --role operator --institution alipay --json

  # A holder's own key
  paybridge keys create --db /tmp/pb.db --role holder --holder me`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runKeysCreate(cmd, db, role, institution, holder, eco, asJSON)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&db, "db", "paybridge.db", "the server's ledger database file (created if missing)")
	fl.StringVar(&role, "role", "", "admin, operator, holder or auditor (required)")
	fl.StringVar(&institution, "institution", "", "the institution an operator key is scoped to (an institution id of --ecosystem)")
	fl.StringVar(&holder, "holder", "", "the holder a holder key is scoped to (a holder id of --ecosystem, or one added to --db)")
	fl.StringVar(&eco, "ecosystem", "", "bundled world name or ecosystem file that --institution and --holder must belong to (default cn-2023)")
	fl.BoolVar(&asJSON, "json", false, `print {"key":…,"key_id":…,"role":…,"institution":…,"holder":…} as JSON`)
	return cmd
}

func runKeysCreate(cmd *cobra.Command, db, role, institution, holder, ecoFlag string, asJSON bool) error {
	if db == "" {
		return usageErrorf("--db: must name a database file")
	}
	if role == "" {
		return usageErrorf("--role: required: one of admin, operator, holder, auditor")
	}
	r, err := auth.ParseRole(role)
	if err != nil {
		return usageErrorf("--role: %v", err)
	}
	p := auth.Principal{Role: r, Institution: institution, Holder: holder}
	if err := p.Validate(); err != nil {
		return principalError(err)
	}
	eco, err := resolveEcosystemFlag(cmd.ErrOrStderr(), "--ecosystem", ecoFlag)
	if err != nil {
		return err
	}
	if institution != "" {
		if _, ok := eco.Institution(institution); !ok {
			return usageErrorf("--institution: %q is not an institution of %s ('paybridge ecosystem show' lists them)", institution, eco.ID)
		}
	}
	if holder != "" {
		if _, ok := eco.Holder(holder); !ok && !addedHolder(cmd.Context(), db, holder) {
			return usageErrorf("--holder: %q is not a holder of %s nor one added to --db %s ('paybridge holders list' lists them)", holder, eco.ID, db)
		}
	}
	s, err := auth.Open(db)
	if err != nil {
		return usageErrorf("--db %s: %v", db, err)
	}
	defer s.Close()
	key, out, err := s.Create(cmd.Context(), p)
	if err != nil {
		return principalError(err)
	}
	if asJSON {
		v := viewKey(out)
		v.Key = key
		return writeJSON(cmd.OutOrStdout(), v)
	}
	fmt.Fprintln(cmd.OutOrStdout(), key)
	fmt.Fprintf(cmd.ErrOrStderr(), "created %s key %s%s (shown once, keep it)\n", out.Role, out.KeyID, scopeText(out))
	return nil
}

func principalError(err error) error {
	var fe *auth.FieldError
	if errors.As(err, &fe) {
		return usageErrorf("--%s: %s", fe.Field, fe.Reason)
	}
	return err
}

func scopeText(p auth.Principal) string {
	switch {
	case p.Institution != "":
		return " for institution " + p.Institution
	case p.Holder != "":
		return " for holder " + p.Holder
	}
	return ""
}

// openExistingKeys opens the key store of an existing file: listing or
// revoking never creates a database.
func openExistingKeys(db string) (*auth.Store, error) {
	if db == "" {
		return nil, usageErrorf("--db: must name a database file")
	}
	if _, err := os.Stat(db); errors.Is(err, fs.ErrNotExist) {
		return nil, usageErrorf("--db %s: no such file (paybridge serve or paybridge keys create makes it)", db)
	}
	s, err := auth.Open(db)
	if err != nil {
		return nil, usageErrorf("--db %s: %v", db, err)
	}
	return s, nil
}

func newKeysListCmd() *cobra.Command {
	var db string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list --db FILE",
		Short: "List the active API keys (ids, roles, scopes; never the keys)",
		Long: `list prints the active (not revoked) keys of --db, oldest first: key id,
role and scope. The keys themselves are not stored and cannot be shown.`,
		Example: `  paybridge keys list --db /tmp/pb.db
  paybridge keys list --db /tmp/pb.db --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := openExistingKeys(db)
			if err != nil {
				return err
			}
			defer s.Close()
			list, err := s.List(cmd.Context())
			if err != nil {
				return err
			}
			if asJSON {
				out := make([]keyView, len(list))
				for i, p := range list {
					out[i] = viewKey(p)
				}
				return writeJSON(cmd.OutOrStdout(), out)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "KEY ID\tROLE\tSCOPE")
			for _, p := range list {
				scope := "-"
				if p.Institution != "" {
					scope = "institution " + p.Institution
				} else if p.Holder != "" {
					scope = "holder " + p.Holder
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\n", p.KeyID, p.Role, scope)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVar(&db, "db", "paybridge.db", "the server's ledger database file")
	cmd.Flags().BoolVar(&asJSON, "json", false, `print [{"key_id":…,"role":…,"institution":…,"holder":…}] as JSON`)
	return cmd
}

func newKeysRevokeCmd() *cobra.Command {
	var db string
	cmd := &cobra.Command{
		Use:   "revoke KEYID --db FILE",
		Short: "Revoke an API key by its id",
		Long: `revoke marks the key KEYID (the 16 hex digits 'keys list' shows, also the part
of the key after "pbk_") revoked: from then on every request with it is
refused with 401. A server already running sees it within 2 seconds. The
key id is never reused.`,
		Example: `  paybridge keys list --db /tmp/pb.db
  paybridge keys revoke 3f2a9c01d4e5b678 --db /tmp/pb.db`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := openExistingKeys(db)
			if err != nil {
				return err
			}
			defer s.Close()
			switch err := s.Revoke(cmd.Context(), args[0]); {
			case errors.Is(err, auth.ErrNotFound):
				return usageErrorf("KEYID %q: no active key with that id ('paybridge keys list --db %s' lists them)", args[0], db)
			case err != nil:
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "revoked %s\n", args[0])
			return nil
		},
	}
	cmd.Flags().StringVar(&db, "db", "paybridge.db", "the server's ledger database file")
	return cmd
}

// openAuthKeys opens the durable key store of the ledger file db for
// serve: this is what serve_keys.go's openKeys returns once wired.
func openAuthKeys(db string) (keyStore, error) {
	s, err := auth.Open(db)
	if err != nil {
		return nil, usageErrorf("--db %s: key store: %v", db, err)
	}
	return authKeys{s}, nil
}

// authKeys adapts *auth.Store to the server's key interfaces (api.Principal
// carries the role as a string). Count and Close are the store's own.
type authKeys struct{ *auth.Store }

func (a authKeys) Authenticate(ctx context.Context, key string) (api.Principal, error) {
	p, err := a.Store.Authenticate(ctx, key)
	if err != nil {
		return api.Principal{}, err
	}
	return apiPrincipal(p), nil
}

func (a authKeys) CreateKey(ctx context.Context, p api.Principal) (string, api.Principal, error) {
	key, out, err := a.Store.Create(ctx, auth.Principal{Role: auth.Role(p.Role), Institution: p.Institution, Holder: p.Holder})
	if err != nil {
		return "", api.Principal{}, err
	}
	return key, apiPrincipal(out), nil
}

func apiPrincipal(p auth.Principal) api.Principal {
	return api.Principal{KeyID: p.KeyID, Role: string(p.Role), Institution: p.Institution, Holder: p.Holder}
}

var _ keyStore = authKeys{}
