// Package ecosystems holds the ecosystem files bundled into paybridge (the
// seed's world cn-2023 is the default) and resolves a world by bundled name
// or by the path of a YAML file. Every world it returns has passed the
// loader's validation and the compliance package's rule compilation.
package ecosystems

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"

	"github.com/goccy/go-yaml"

	"github.com/paybridge/paybridge/compliance"
	"github.com/paybridge/paybridge/ecosystem"
)

// Default is the bundled world every command uses when none is named.
const Default = "cn-2023"

// bundled holds this directory's world files.
//
//go:embed *.yaml
var bundled embed.FS

// ErrUnknown is returned (wrapped) when a name is neither a bundled world nor a file.
var ErrUnknown = errors.New("unknown ecosystem")

// Info describes one bundled world.
type Info struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	File        string `json:"file"`
}

// Registry is a set of ecosystem files in a file system, one world per
// top-level *.yaml file named after the world's id.
type Registry struct {
	fsys   fs.FS
	checks []ecosystem.Check
}

// New returns a registry over fsys whose loads run checks after the built-in validation.
func New(fsys fs.FS, checks ...ecosystem.Check) *Registry {
	return &Registry{fsys: fsys, checks: checks}
}

// With returns a registry over the same files whose loads also run checks
// (for example calibrate.Validate, which this package cannot import without
// making the planner's tests circular).
func (r *Registry) With(checks ...ecosystem.Check) *Registry {
	return &Registry{fsys: r.fsys, checks: append(append([]ecosystem.Check{}, r.checks...), checks...)}
}

// Bundled is the registry of worlds compiled into the binary, whose rules are
// compiled by the compliance package on load.
var Bundled = New(bundled, compliance.LoadCheck)

// List returns the bundled worlds, sorted by id.
func List() []Info { return Bundled.List() }

// Load loads a bundled world by name (its id, e.g. "cn-2023").
func Load(name string) (*ecosystem.Ecosystem, error) { return Bundled.Load(name) }

// Resolve loads a bundled world by name, or the ecosystem file at a path;
// "" means Default.
func Resolve(nameOrPath string) (*ecosystem.Ecosystem, error) { return Bundled.Resolve(nameOrPath) }

// Names returns the ids of the bundled worlds, sorted.
func Names() []string { return Bundled.Names() }

// files lists the registry's world files, sorted.
func (r *Registry) files() []string {
	matches, err := fs.Glob(r.fsys, "*.yaml")
	if err != nil { // only for a malformed pattern
		return nil
	}
	sort.Strings(matches)
	return matches
}

// Names returns the world names (file names without .yaml), sorted.
func (r *Registry) Names() []string {
	var names []string
	for _, f := range r.files() {
		names = append(names, strings.TrimSuffix(f, ".yaml"))
	}
	return names
}

// header is the part of a world file List reads.
type header struct {
	ID          string `yaml:"id"`
	Name        string `yaml:"name"`
	Description string `yaml:"description"`
}

// List describes every world from its file's header; a file whose header does
// not parse is listed with the parse error as its description.
func (r *Registry) List() []Info {
	var out []Info
	for _, f := range r.files() {
		info := Info{ID: strings.TrimSuffix(f, ".yaml"), File: f}
		data, err := fs.ReadFile(r.fsys, f)
		var h header
		if err == nil {
			err = yaml.Unmarshal(data, &h)
		}
		if err != nil {
			info.Description = "unreadable: " + firstLine(err.Error())
		} else {
			info.Name, info.Description = h.Name, h.Description
			if h.ID != "" {
				info.ID = h.ID
			}
		}
		out = append(out, info)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}

// Load loads and validates the world called name.
func (r *Registry) Load(name string) (*ecosystem.Ecosystem, error) {
	file := name + ".yaml"
	if name == "" || strings.ContainsAny(name, `/\`) || !fs.ValidPath(file) {
		return nil, r.unknown(name)
	}
	data, err := fs.ReadFile(r.fsys, file)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, r.unknown(name)
	}
	if err != nil {
		return nil, fmt.Errorf("bundled ecosystem %s: %w", name, err)
	}
	return ecosystem.Load(path.Join("ecosystems", file), data, r.checks...)
}

// Resolve loads the world called nameOrPath, or else the file at that path;
// "" means Default.
func (r *Registry) Resolve(nameOrPath string) (*ecosystem.Ecosystem, error) {
	if nameOrPath == "" {
		nameOrPath = Default
	}
	if r.has(nameOrPath) {
		return r.Load(nameOrPath)
	}
	if _, err := os.Stat(nameOrPath); err == nil {
		return ecosystem.LoadFile(nameOrPath, r.checks...)
	}
	if name := strings.TrimSuffix(nameOrPath, ".yaml"); name != nameOrPath && r.has(name) {
		return r.Load(name) // "cn-2023.yaml" outside ecosystems/: the bundled file
	}
	if looksLikePath(nameOrPath) {
		return nil, fmt.Errorf("ecosystem file %s: %w", nameOrPath, fs.ErrNotExist)
	}
	return nil, r.unknown(nameOrPath)
}

func (r *Registry) has(name string) bool {
	for _, n := range r.Names() {
		if n == name {
			return true
		}
	}
	return false
}

func looksLikePath(s string) bool {
	return strings.ContainsAny(s, `/\`) || strings.HasSuffix(s, ".yaml") || strings.HasSuffix(s, ".yml")
}

func (r *Registry) unknown(name string) error {
	names := r.Names()
	list := "none"
	if len(names) > 0 {
		list = strings.Join(names, ", ")
	}
	return fmt.Errorf("%w %q: not a bundled world (%s) nor an existing file", ErrUnknown, name, list)
}
