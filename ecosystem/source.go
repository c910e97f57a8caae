package ecosystem

import (
	"slices"
	"strings"
	"time"
)

// TagUnverified marks a channel whose figures have no public source: the
// world keeps a figure (often the seed article's) but says it was not found
// anywhere public.
const TagUnverified = "unverified"

// Unverified reports whether the channel carries the tag TagUnverified.
func (c Channel) Unverified() bool { return slices.Contains(c.Tags, TagUnverified) }

// Source is what the world says of where the channel's figures come from, on
// one line: the dates it is in force ("in force from 2016-10-12", "until
// …"), "unverified" when so tagged, and its note with spacing normalised,
// joined by "; ". It is "" when the world says nothing. Dates are in the
// times' own zone, as written in the file.
func (c Channel) Source() string {
	var parts []string
	if !c.ValidFrom.IsZero() {
		parts = append(parts, "in force from "+c.ValidFrom.Format(time.DateOnly))
	}
	if !c.ValidUntil.IsZero() {
		parts = append(parts, "until "+c.ValidUntil.Format(time.DateOnly))
	}
	if c.Unverified() {
		parts = append(parts, TagUnverified)
	}
	if n := OneLine(c.Note); n != "" {
		parts = append(parts, n)
	}
	return strings.Join(parts, "; ")
}

// Source is the product's note on one line, "" when it has none.
func (p Product) Source() string { return OneLine(p.Note) }

// Source is the institution's note on one line, "" when it has none.
func (in Institution) Source() string { return OneLine(in.Note) }

// OneLine normalises a note's spacing: runs of spaces and line breaks become
// one space, and the ends are trimmed.
func OneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
