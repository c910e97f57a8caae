package payment

import (
	"slices"
	"time"

	"github.com/paybridge/paybridge/ecosystem"
)

// This file applies clearing windows to a drawn latency the way the
// planner's unexported arrive/settle do (route/clearing.go), so realised
// times match the plan. It is a copy until package route exports it; see
// NOTES-for-route.md.

type clearing struct {
	t1, weekdays bool
	windows      []struct{ open, close time.Duration }
}

func clearingOf(c ecosystem.Clearing) *clearing {
	cl := &clearing{t1: c.Mode == ecosystem.ClearingT1, weekdays: c.Days == "weekdays"}
	for _, w := range c.Windows {
		o, err1 := ecosystem.ParseClock(w.Open)
		cl2, err2 := ecosystem.ParseClock(w.Close)
		if err1 == nil && err2 == nil && o < cl2 {
			cl.windows = append(cl.windows, struct{ open, close time.Duration }{o, cl2})
		}
	}
	if !cl.t1 && !cl.weekdays && len(cl.windows) == 0 {
		return nil
	}
	slices.SortFunc(cl.windows, func(a, b struct{ open, close time.Duration }) int { return int(a.open - b.open) })
	return cl
}

// arrive returns when a hop of ch started at start with a latency of
// seconds settles, moved to the next moment every clearing constraint of
// the operator and the Via institutions allows.
func arrive(eco *ecosystem.Ecosystem, loc *time.Location, ch *ecosystem.Channel, start time.Time, seconds float64) time.Time {
	t := start.Add(time.Duration(seconds * float64(time.Second)))
	var cs []*clearing
	for _, id := range append([]string{ch.Institution}, ch.Via...) {
		if in, ok := eco.Institution(id); ok {
			if c := clearingOf(in.Clearing); c != nil {
				cs = append(cs, c)
			}
		}
	}
	for range 4 {
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
