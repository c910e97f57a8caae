package route

import (
	"fmt"
	"slices"
	"time"

	"github.com/paybridge/paybridge/ecosystem"
)

// clearing is an institution's settlement constraint, parsed once per query.
type clearing struct {
	t1       bool // settles no earlier than the day after the hop starts
	weekdays bool // settles Monday to Friday only
	windows  []window
}

type window struct{ open, close time.Duration }

// clearingOf parses an institution's clearing; nil when it settles at any time.
func clearingOf(c ecosystem.Clearing) *clearing {
	cl := &clearing{t1: c.Mode == ecosystem.ClearingT1, weekdays: c.Days == "weekdays"}
	for _, w := range c.Windows {
		open, err1 := ecosystem.ParseClock(w.Open)
		closing, err2 := ecosystem.ParseClock(w.Close)
		if err1 == nil && err2 == nil && open < closing {
			cl.windows = append(cl.windows, window{open, closing})
		}
	}
	if !cl.t1 && !cl.weekdays && len(cl.windows) == 0 {
		return nil
	}
	slices.SortFunc(cl.windows, func(a, b window) int { return int(a.open - b.open) })
	return cl
}

// channelClearings returns the clearing constraints of a channel's operator
// and of the institutions it passes through.
func channelClearings(eco *ecosystem.Ecosystem, ch *ecosystem.Channel) []*clearing {
	var cs []*clearing
	for _, id := range append([]string{ch.Institution}, ch.Via...) {
		if in, ok := eco.Institution(id); ok {
			if c := clearingOf(in.Clearing); c != nil {
				cs = append(cs, c)
			}
		}
	}
	return cs
}

// clearingsOf is channelClearings cached for the query.
func (p *planner) clearingsOf(ch *ecosystem.Channel) []*clearing {
	if cs, ok := p.clearings[ch]; ok {
		return cs
	}
	cs := channelClearings(p.eco, ch)
	p.clearings[ch] = cs
	return cs
}

// Arrive returns when a hop of ch that started at start with a drawn latency
// of seconds settles: the arrival moved to the next moment every clearing
// constraint of the operator and of the Via institutions allows (loc is the
// ecosystem's time zone). Payments use it so that realised times follow the
// same rule as the plan.
func Arrive(eco *ecosystem.Ecosystem, loc *time.Location, ch *ecosystem.Channel, start time.Time, seconds float64) time.Time {
	return arriveThrough(channelClearings(eco, ch), loc, start, seconds)
}

// arrive is Arrive with the query's cached clearings.
func (p *planner) arrive(ch *ecosystem.Channel, start time.Time, seconds float64) time.Time {
	return arriveThrough(p.clearingsOf(ch), p.loc, start, seconds)
}

func arriveThrough(cs []*clearing, loc *time.Location, start time.Time, seconds float64) time.Time {
	t := start.Add(time.Duration(seconds * float64(time.Second)))
	for range 4 { // a few passes settle constraints that push each other
		moved := false
		for _, c := range cs {
			if u := c.settle(start, t, loc); u.After(t) {
				t, moved = u, true
			}
		}
		if !moved {
			break
		}
	}
	return t
}

// settle returns the first moment at or after t when money arriving at t
// settles, for a hop that started at start.
func (c *clearing) settle(start, t time.Time, loc *time.Location) time.Time {
	if c.t1 {
		s := start.In(loc)
		next := time.Date(s.Year(), s.Month(), s.Day()+1, 0, 0, 0, 0, loc)
		if t.Before(next) {
			t = next
		}
	}
	lt := t.In(loc)
	for k := range 8 {
		day := time.Date(lt.Year(), lt.Month(), lt.Day()+k, 0, 0, 0, 0, loc)
		if wd := day.Weekday(); c.weekdays && (wd == time.Saturday || wd == time.Sunday) {
			continue
		}
		if len(c.windows) == 0 {
			if k == 0 {
				return t
			}
			return day
		}
		for _, w := range c.windows {
			open, closing := day.Add(w.open), day.Add(w.close)
			if !t.Before(closing) {
				continue
			}
			if t.Before(open) {
				return open
			}
			return t
		}
	}
	return t
}

func sprintf(format string, args ...any) string { return fmt.Sprintf(format, args...) }
