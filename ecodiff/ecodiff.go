// Package ecodiff compares two payment worlds (ecosystem.Ecosystem) and
// reports what one has that the other lacks and how their shared parts
// differ: holders, institutions, products, channels, fees, limits (including
// the dates a channel is in force and the classes, or tiers, of an account),
// rules and calibration targets. Each difference is one Entry, field by
// field, with both sides' values and, where the world gives it, where the
// figure comes from (a channel's validity dates, its note, a target's
// source).
//
// Compare is pure: it reads the two worlds, changes neither and returns the
// same Diff for the same input. Rendering is the caller's.
package ecodiff

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/paybridge/paybridge/ecosystem"
	"github.com/paybridge/paybridge/money"
)

// Change is what happened to an item going from world A to world B.
type Change string

// Changes.
const (
	Added   Change = "added"   // only in B
	Removed Change = "removed" // only in A
	Changed Change = "changed" // in both, a field differs
)

// Sections, in the order a Diff lists them.
const (
	SectionWorld        = "world"
	SectionHolders      = "holders"
	SectionInstitutions = "institutions"
	SectionProducts     = "products"
	SectionChannels     = "channels"
	SectionFees         = "fees"
	SectionLimits       = "limits"
	SectionRules        = "rules"
	SectionCalibration  = "calibration"
)

// Sections lists every section in the order of a Diff's entries.
var Sections = []string{SectionWorld, SectionHolders, SectionInstitutions, SectionProducts, SectionChannels, SectionFees, SectionLimits, SectionRules, SectionCalibration}

// World names one side of a comparison.
type World struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// Entry is one difference.
type Entry struct {
	// Section groups the entry: a channel's fee fields are under fees, its
	// limits and validity dates and a product's tiers under limits.
	Section string `json:"section"`
	// ID is the item's id: a product, channel, rule or holder id, a
	// calibration target's name, or the world field for SectionWorld.
	ID string `json:"id"`
	// Change is added or removed for a whole item, and for an element of a
	// list inside an item that one side lacks (Field "tiers[class_ii]");
	// changed for a field whose values differ.
	Change Change `json:"change"`
	// Field is the YAML path of the field inside the item, e.g. "fee.min_fen"
	// or "tiers[class_i].limits.per_year_fen"; empty when the whole item was
	// added or removed.
	Field string `json:"field,omitempty"`
	// A and B are each side's value as text ("" when the side has none);
	// for an added or removed item, a one-line summary of it.
	A string `json:"a"`
	B string `json:"b"`
	// SourceA and SourceB say where each side's figure comes from, as far as
	// the world says: a channel's validity dates, "unverified" and note, a
	// product's or institution's note, a calibration target's source. Notes
	// and sources are never differences themselves.
	SourceA string `json:"source_a,omitempty"`
	SourceB string `json:"source_b,omitempty"`
}

// Diff is the comparison of world A with world B.
type Diff struct {
	A       World   `json:"a"`
	B       World   `json:"b"`
	Entries []Entry `json:"differences"` // by section, then in A's order of items, then B's new ones
}

// Counts returns how many entries are additions, removals and changes.
func (d *Diff) Counts() (added, removed, changed int) {
	for _, e := range d.Entries {
		switch e.Change {
		case Added:
			added++
		case Removed:
			removed++
		case Changed:
			changed++
		}
	}
	return added, removed, changed
}

// Empty reports whether the worlds do not differ (their ids and names aside).
func (d *Diff) Empty() bool { return len(d.Entries) == 0 }

// Compare returns the differences from a to b. The worlds' ids and names are
// reported in Diff.A and Diff.B, not as differences.
func Compare(a, b *ecosystem.Ecosystem) *Diff {
	d := &Diff{A: World{a.ID, a.Name}, B: World{b.ID, b.Name}, Entries: []Entry{}}
	c := &comparer{}
	c.world(a, b)
	compareLists(c, SectionHolders, a.Holders, b.Holders, func(h ecosystem.Holder) string { return h.ID },
		func(h ecosystem.Holder) string { return fmt.Sprintf("%s %s, KYC %d", h.Kind, h.Name, h.KYCLevel) }, noSource[ecosystem.Holder])
	compareLists(c, SectionInstitutions, a.Institutions, b.Institutions, func(in ecosystem.Institution) string { return in.ID },
		func(in ecosystem.Institution) string { return in.Kind + " " + in.Name },
		ecosystem.Institution.Source)
	compareLists(c, SectionProducts, a.Products, b.Products, func(p ecosystem.Product) string { return p.ID },
		productSummary, ecosystem.Product.Source)
	compareLists(c, SectionChannels, a.Channels, b.Channels, func(ch ecosystem.Channel) string { return ch.ID },
		channelSummary, ecosystem.Channel.Source)
	compareLists(c, SectionRules, a.Rules, b.Rules, func(r ecosystem.Rule) string { return r.ID },
		func(r ecosystem.Rule) string { return r.Scope + " " + r.Effect + ": " + firstSentence(r.Message) }, noSource[ecosystem.Rule])
	compareLists(c, SectionCalibration, a.Calibration, b.Calibration, func(t ecosystem.CalibrationTarget) string { return t.Name },
		targetSummary, func(t ecosystem.CalibrationTarget) string { return t.Source })
	for _, s := range Sections {
		for _, e := range c.entries {
			if e.Section == s {
				d.Entries = append(d.Entries, e)
			}
		}
	}
	return d
}

type comparer struct{ entries []Entry }

func (c *comparer) add(e Entry) { c.entries = append(c.entries, e) }

// world compares the world-level fields (currency, timezone, description).
func (c *comparer) world(a, b *ecosystem.Ecosystem) {
	for _, f := range []struct{ name, a, b string }{
		{"currency", a.Currency, b.Currency},
		{"timezone", a.Timezone, b.Timezone},
	} {
		if f.a != f.b {
			c.add(Entry{Section: SectionWorld, ID: f.name, Change: Changed, Field: f.name, A: f.a, B: f.b})
		}
	}
}

// compareLists pairs the items of two lists by key and records the items
// only in one list, then every field that differs in items in both.
func compareLists[T any](c *comparer, section string, as, bs []T, key func(T) string, summary, source func(T) string) {
	inB := make(map[string]int, len(bs))
	for i, b := range bs {
		if _, dup := inB[key(b)]; !dup {
			inB[key(b)] = i
		}
	}
	inA := make(map[string]bool, len(as))
	for _, a := range as {
		k := key(a)
		if inA[k] {
			continue
		}
		inA[k] = true
		j, ok := inB[k]
		if !ok {
			c.add(Entry{Section: section, ID: k, Change: Removed, A: summary(a), SourceA: source(a)})
			continue
		}
		b := bs[j]
		fa, fb := flatten(a), flatten(b)
		srcA, srcB := source(a), source(b)
		for _, f := range mergeFields(fa, fb) {
			va, oka := lookup(fa, f)
			vb, okb := lookup(fb, f)
			if oka && okb && va == vb || inMissingElement(fa, fb, f) {
				continue
			}
			if isSourceField(f) {
				// Notes and sources are shown beside the figures, not as differences.
				continue
			}
			change := Changed
			if strings.HasSuffix(f, "]") {
				// A list element (a tier): one entry when one side lacks it,
				// its differing fields when both have it.
				switch {
				case oka && okb:
					continue
				case oka:
					change = Removed
				default:
					change = Added
				}
			}
			c.add(Entry{Section: sectionOf(section, f), ID: k, Change: change, Field: f, A: va, B: vb, SourceA: srcA, SourceB: srcB})
		}
	}
	for _, b := range bs {
		k := key(b)
		if inA[k] {
			continue
		}
		inA[k] = true
		c.add(Entry{Section: section, ID: k, Change: Added, B: summary(b), SourceB: source(b)})
	}
}

// inMissingElement reports whether path lies inside a list element (such as
// "tiers[class_i]") that one side lacks: the element is then one entry, its
// fields are not.
func inMissingElement(a, b []field, path string) bool {
	for i := 0; i < len(path); i++ {
		if path[i] != ']' || i == len(path)-1 {
			continue
		}
		prefix := path[:i+1]
		_, oka := lookup(a, prefix)
		_, okb := lookup(b, prefix)
		if oka != okb {
			return true
		}
	}
	return false
}

// isSourceField is a free-text field that documents a figure rather than
// being one.
func isSourceField(f string) bool {
	return f == "note" || f == "source" || strings.HasSuffix(f, ".range")
}

// sectionOf moves a channel's fee fields to fees, and its limits, validity
// dates and a product's tiers and balance cap to limits.
func sectionOf(section, field string) string {
	switch {
	case section == SectionChannels && (field == "fee_refundable" || strings.HasPrefix(field, "fee.")):
		return SectionFees
	case section == SectionChannels && (strings.HasPrefix(field, "limits.") || strings.HasPrefix(field, "valid_")):
		return SectionLimits
	case section == SectionProducts && (strings.HasPrefix(field, "tiers") || field == "balance_cap_fen" || field == "credit_limit_fen"):
		return SectionLimits
	}
	return section
}

type field struct{ path, value string }

func lookup(fs []field, path string) (string, bool) {
	for _, f := range fs {
		if f.path == path {
			return f.value, true
		}
	}
	return "", false
}

// mergeFields lists the paths of a, then the paths only in b, each once.
func mergeFields(a, b []field) []string {
	var out []string
	seen := map[string]bool{}
	for _, fs := range [][]field{a, b} {
		for _, f := range fs {
			if !seen[f.path] {
				seen[f.path] = true
				out = append(out, f.path)
			}
		}
	}
	return out
}

var (
	timeType     = reflect.TypeFor[time.Time]()
	durationType = reflect.TypeFor[time.Duration]()
)

// flatten lists v's fields as YAML paths and text values. A field tagged
// omitempty is left out when zero, as the YAML file would leave it out;
// elements of a list of structs with a name are keyed by it
// ("tiers[class_i]"), other lists by position.
func flatten(v any) []field {
	var out []field
	flattenValue("", reflect.ValueOf(v), &out)
	return out
}

func flattenValue(path string, v reflect.Value, out *[]field) {
	switch {
	case v.Type() == timeType:
		*out = append(*out, field{path, v.Interface().(time.Time).Format(time.RFC3339)})
		return
	case v.Type() == durationType:
		*out = append(*out, field{path, time.Duration(v.Int()).String()})
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			flattenValue(path, v.Elem(), out)
		}
	case reflect.Struct:
		t := v.Type()
		for i := range t.NumField() {
			sf := t.Field(i)
			if !sf.IsExported() {
				continue
			}
			name, opts, _ := strings.Cut(sf.Tag.Get("yaml"), ",")
			if name == "-" {
				continue
			}
			if name == "" {
				name = strings.ToLower(sf.Name)
			}
			fv := v.Field(i)
			if fv.IsZero() && (strings.Contains(opts, "omitempty") || fv.Kind() == reflect.Pointer) {
				continue
			}
			flattenValue(join(path, name), fv, out)
		}
	case reflect.Slice:
		if v.Len() == 0 {
			return
		}
		if v.Type().Elem().Kind() != reflect.Struct {
			parts := make([]string, v.Len())
			for i := range v.Len() {
				parts[i] = fmt.Sprint(v.Index(i).Interface())
			}
			*out = append(*out, field{path, "[" + strings.Join(parts, ", ") + "]"})
			return
		}
		for i := range v.Len() {
			elem := v.Index(i)
			key := strconv.Itoa(i)
			if nf := elem.FieldByName("Name"); nf.IsValid() && nf.Kind() == reflect.String && nf.String() != "" {
				key = nf.String()
			}
			// The element itself, summarised, then its fields.
			var sub []field
			flattenValue("", elem, &sub)
			parts := make([]string, 0, len(sub))
			for _, f := range sub {
				if f.path != "name" {
					parts = append(parts, f.path+" "+f.value)
				}
			}
			*out = append(*out, field{path + "[" + key + "]", strings.Join(parts, ", ")})
			for _, f := range sub {
				*out = append(*out, field{path + "[" + key + "]." + f.path, f.value})
			}
		}
	case reflect.Int, reflect.Int64, reflect.Int32:
		*out = append(*out, field{path, formatInt(path, v.Int())})
	case reflect.Uint64, reflect.Uint32, reflect.Uint:
		*out = append(*out, field{path, strconv.FormatUint(v.Uint(), 10)})
	case reflect.Float64, reflect.Float32:
		*out = append(*out, field{path, strconv.FormatFloat(v.Float(), 'g', -1, 64)})
	case reflect.Bool:
		*out = append(*out, field{path, strconv.FormatBool(v.Bool())})
	case reflect.String:
		*out = append(*out, field{path, strings.TrimSpace(v.String())})
	default:
		*out = append(*out, field{path, fmt.Sprint(v.Interface())})
	}
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

// formatInt renders money fields in yuan and rates in percent, so a reader
// sees "0.10 yuan" rather than "10".
func formatInt(path string, n int64) string {
	switch {
	case strings.HasSuffix(path, "_fen"):
		return money.FormatYuan(n) + " yuan"
	case strings.HasSuffix(path, "_bps"):
		return fmt.Sprintf("%d.%02d%%", n/100, abs(n%100))
	}
	return strconv.FormatInt(n, 10)
}

func abs(n int64) int64 {
	if n < 0 {
		return -n
	}
	return n
}

func noSource[T any](T) string { return "" }

// firstSentence is the first sentence of a note, for a one-line source.
func firstSentence(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if i := strings.Index(s, ". "); i >= 0 {
		s = s[:i+1]
	}
	return s
}

func productSummary(p ecosystem.Product) string {
	s := p.Kind + " at " + p.Institution
	if len(p.Tiers) > 0 {
		names := make([]string, len(p.Tiers))
		for i, t := range p.Tiers {
			names[i] = t.Name
		}
		s += ", classes " + strings.Join(names, ", ")
	}
	return s
}

func channelSummary(ch ecosystem.Channel) string {
	return fmt.Sprintf("%s %s → %s by %s, fee %s", ch.Kind, ch.From, ch.To, ch.Institution, feeText(ch.Fee))
}

func targetSummary(t ecosystem.CalibrationTarget) string {
	var want string
	switch {
	case t.Min != nil && t.Max != nil:
		want = fmt.Sprintf("%g–%g", *t.Min, *t.Max)
	case t.Min != nil:
		want = fmt.Sprintf("≥ %g", *t.Min)
	case t.Max != nil:
		want = fmt.Sprintf("≤ %g", *t.Max)
	default:
		want = fmt.Sprintf("%g", t.Value)
	}
	return fmt.Sprintf("%s %s for %s → %s, %s yuan", t.Metric, want, t.Query.From, t.Query.To, t.Query.AmountYuan)
}

// feeText renders a fee schedule on one line: "0.10% min 0.10 1000.00 free".
func feeText(f money.FeeSchedule) string {
	if f == (money.FeeSchedule{}) {
		return "free"
	}
	parts := []string{formatInt("rate_bps", f.RateBps)}
	if f.MinFen > 0 {
		parts = append(parts, "min "+money.FormatYuan(f.MinFen))
	}
	if f.MaxFen > 0 {
		parts = append(parts, "max "+money.FormatYuan(f.MaxFen))
	}
	if f.FixedFen > 0 {
		parts = append(parts, "+"+money.FormatYuan(f.FixedFen))
	}
	if f.FreeQuotaFen > 0 {
		parts = append(parts, money.FormatYuan(f.FreeQuotaFen)+" free")
	}
	return strings.Join(parts, " ")
}
