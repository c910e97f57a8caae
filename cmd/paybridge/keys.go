package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/paybridge/paybridge/auth"
)

var keysCmd = &cobra.Command{
	Use:   "keys",
	Short: "Create, list and revoke the server's API keys",
	Long: `keys manages the API keys that paybridge serve accepts (Authorization: Bearer KEY).
Keys live in a table of the ledger database; only a SHA-256 hash of each
key's 256-bit secret is stored, so a key is shown once, when it is created,
and cannot be recovered — make a new one and revoke the old.

Roles:
  admin     everything
  operator  one institution (--institution): its accounts and the payments that touch it
  holder    one holder (--holder): its own accounts and payments
  auditor   reads everything, changes nothing`,
}

func init() {
	keysCmd.AddCommand(newKeysCreateCmd(), newKeysListCmd(), newKeysRevokeCmd())
	root.AddCommand(keysCmd)
}

// keyCreated is what keys create --json prints.
type keyCreated struct {
	Key string `json:"key"`
	auth.Principal
}

func cmdContext(cmd *cobra.Command) context.Context {
	if ctx := cmd.Context(); ctx != nil {
		return ctx
	}
	return context.Background()
}

func openKeys(db string) (*auth.Store, error) {
	if db == "" {
		return nil, usageErrorf("--db: must name a database file")
	}
	s, err := auth.Open(db)
	if err != nil {
		return nil, usageErrorf("--db %s: %v", db, err)
	}
	return s, nil
}

func newKeysCreateCmd() *cobra.Command {
	var db, role, inst, holder, eco string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "create --role ROLE [--institution ID] [--holder ID]",
		Short: "Make an API key and print it (once)",
		Long: `create makes a key for a role and prints it. The key is not stored and cannot
be shown again. An operator key needs --institution, a holder key needs
--holder; admin and auditor keys take neither.

With --ecosystem (a bundled world name or a file) the institution or holder
must exist in that ecosystem. Without it they are NOT checked: a key scoped
to a misspelt id is valid but sees nothing.

The database file is created if missing; paybridge serve and pay use the same
file as the ledger.`,
		Example: `  paybridge keys create --db paybridge.db --role admin
  paybridge keys create --db paybridge.db --role operator --institution alipay --ecosystem cn-2023
  paybridge keys create --db paybridge.db --role holder --holder me --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			r, err := auth.ParseRole(role)
			if err != nil {
				return usageErrorf("--role: %v", err)
			}
			p := auth.Principal{Role: r, Institution: inst, Holder: holder}
			if err := p.Validate(); err != nil {
				return usageErrorf("--%s", err)
			}
			if eco != "" {
				e, err := resolveEcosystemFlag(cmd.ErrOrStderr(), "--ecosystem", eco)
				if err != nil {
					return err
				}
				if inst != "" {
					if _, ok := e.Institution(inst); !ok {
						return usageErrorf("--institution %s: no such institution in ecosystem %s", inst, e.ID)
					}
				}
				if holder != "" {
					if _, ok := e.Holder(holder); !ok {
						return usageErrorf("--holder %s: no such holder in ecosystem %s", holder, e.ID)
					}
				}
			}
			s, err := openKeys(db)
			if err != nil {
				return err
			}
			defer s.Close()
			key, out, err := s.Create(cmdContext(cmd), p)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if asJSON {
				return json.NewEncoder(w).Encode(keyCreated{Key: key, Principal: out})
			}
			scope := ""
			switch {
			case out.Institution != "":
				scope = " for institution " + out.Institution
			case out.Holder != "":
				scope = " for holder " + out.Holder
			}
			fmt.Fprintf(w, "%s\n", key)
			fmt.Fprintf(cmd.ErrOrStderr(), "created %s key %s%s; the key above is shown only this once\n", out.Role, out.KeyID, scope)
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&db, "db", "paybridge.db", "ledger database file that holds the keys (created if missing)")
	fl.StringVar(&role, "role", "", "admin, operator, holder or auditor (required)")
	fl.StringVar(&inst, "institution", "", "institution id an operator key is scoped to")
	fl.StringVar(&holder, "holder", "", "holder id a holder key is scoped to")
	fl.StringVar(&eco, "ecosystem", "", "bundled world name or ecosystem file to check --institution/--holder against (unchecked without it)")
	fl.BoolVar(&asJSON, "json", false, `print {"key":…,"key_id":…,"role":…,…} as JSON`)
	return cmd
}

func newKeysListCmd() *cobra.Command {
	var db string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the API keys (ids, roles and scopes; never the keys)",
		Long: `list prints every key's id, role, scope, creation time and whether it is
revoked, oldest first. The keys themselves are not stored and cannot be listed.`,
		Example: "  paybridge keys list --db paybridge.db\n  paybridge keys list --db paybridge.db --json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := openKeys(db)
			if err != nil {
				return err
			}
			defer s.Close()
			list, err := s.List(cmdContext(cmd))
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if asJSON {
				return json.NewEncoder(w).Encode(list)
			}
			fmt.Fprintf(w, "%-16s  %-8s  %-24s  %-24s  %s\n", "KEY ID", "ROLE", "SCOPE", "CREATED", "STATE")
			for _, p := range list {
				scope := "all"
				switch {
				case p.Institution != "":
					scope = "institution " + p.Institution
				case p.Holder != "":
					scope = "holder " + p.Holder
				}
				state := "active"
				if p.Revoked {
					state = "revoked"
				}
				fmt.Fprintf(w, "%-16s  %-8s  %-24s  %-24s  %s\n", p.KeyID, p.Role, scope, p.Created.Format("2006-01-02T15:04:05Z07:00"), state)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&db, "db", "paybridge.db", "ledger database file that holds the keys")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the list as JSON")
	return cmd
}

func newKeysRevokeCmd() *cobra.Command {
	var db string
	cmd := &cobra.Command{
		Use:   "revoke KEY_ID",
		Short: "Stop a key from authenticating",
		Long: `revoke marks a key revoked (by the key id that keys list shows, or the whole
key). A running server stops accepting it within a second.`,
		Example: "  paybridge keys revoke --db paybridge.db 3f2a9c01d4e5b6a7",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id := strings.TrimSpace(args[0])
			if kid, _, err := auth.ParseKey(id); err == nil {
				id = kid
			}
			s, err := openKeys(db)
			if err != nil {
				return err
			}
			defer s.Close()
			if err := s.Revoke(cmdContext(cmd), id); err != nil {
				if errors.Is(err, auth.ErrNotFound) {
					return usageErrorf("KEY_ID: %v", err)
				}
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "revoked %s\n", id)
			return nil
		},
	}
	cmd.Flags().StringVar(&db, "db", "paybridge.db", "ledger database file that holds the keys")
	return cmd
}
