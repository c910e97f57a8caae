package payment

import (
	"encoding/json"
	"strconv"
	"time"
)

// appendEvent appends ev's JSON (the same document json.Marshal gives,
// decoded by json.Unmarshal into Event) without reflection: events are
// written on every hop, so their encoding is on the hot path.
func appendEvent(b []byte, ev *Event) ([]byte, error) {
	b = append(b, '{')
	if ev.Seq != 0 {
		b = append(b, `"seq":`...)
		b = strconv.AppendUint(b, ev.Seq, 10)
		b = append(b, ',')
	}
	b = append(b, `"payment":`...)
	b = appendString(b, ev.Payment)
	b = append(b, `,"at":`...)
	b = appendTime(b, ev.At)
	b = append(b, `,"type":`...)
	b = appendString(b, ev.Type)
	if ev.Hop != 0 {
		b = append(b, `,"hop":`...)
		b = strconv.AppendInt(b, int64(ev.Hop), 10)
	}
	b = append(b, `,"transfer_ids":[`...)
	for i, id := range ev.TransferIDs {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendUint(b, uint64(id), 10)
	}
	b = append(b, ']')
	if ev.Reason != "" {
		b = append(b, `,"reason":`...)
		b = appendString(b, ev.Reason)
	}
	for _, f := range []struct {
		name string
		v    int64
	}{{"attempt", int64(ev.Attempt)}, {"amount_fen", ev.AmountFen}, {"credit_share_bps", ev.CreditShareBps}, {"fee_fen", ev.FeeFen}} {
		if f.v != 0 {
			b = append(b, `,"`...)
			b = append(b, f.name...)
			b = append(b, `":`...)
			b = strconv.AppendInt(b, f.v, 10)
		}
	}
	if ev.Due != nil {
		b = append(b, `,"due":`...)
		b = appendTime(b, *ev.Due)
	}
	if ev.Down != "" {
		b = append(b, `,"down":`...)
		b = appendString(b, ev.Down)
	}
	if len(ev.Counters) > 0 {
		b = append(b, `,"counters":[`...)
		for i, c := range ev.Counters {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"key":`...)
			b = appendString(b, c.Key)
			b = append(b, `,"delta":`...)
			b = strconv.AppendInt(b, c.Delta, 10)
			b = append(b, `,"max_value":`...)
			b = strconv.AppendInt(b, c.MaxValue, 10)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	if ev.Spec != nil {
		sb, err := ev.Spec.MarshalJSON()
		if err != nil {
			return nil, err
		}
		b = append(b, `,"spec":`...)
		b = append(b, sb...)
	}
	return append(b, '}'), nil
}

// appendString appends s as a JSON string: verbatim when it is plain
// printable ASCII, through encoding/json otherwise.
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s)
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// appendTime appends t as encoding/json does (RFC 3339 with nanoseconds).
func appendTime(b []byte, t time.Time) []byte {
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"')
}

// appendSpec appends s's JSON: the document encoding/json gives for Spec's
// fields and tags.
func appendSpec(b []byte, s *Spec) ([]byte, error) {
	b = append(b, `{"num":`...)
	b = strconv.AppendUint(b, s.Num, 10)
	if s.Key != "" {
		b = append(b, `,"key":`...)
		b = appendString(b, s.Key)
	}
	if s.KeySum != "" {
		b = append(b, `,"key_sum":`...)
		b = appendString(b, s.KeySum)
	}
	for _, f := range []struct{ name, v string }{{"from", s.From}, {"to", s.To}, {"from_holder", s.FromHolder}, {"to_holder", s.ToHolder}} {
		b = append(b, `,"`...)
		b = append(b, f.name...)
		b = append(b, `":`...)
		b = appendString(b, f.v)
	}
	b = append(b, `,"amount_fen":`...)
	b = strconv.AppendInt(b, s.AmountFen, 10)
	b = append(b, `,"seed":`...)
	b = strconv.AppendUint(b, s.Seed, 10)
	b = append(b, `,"on_failure":`...)
	b = appendString(b, s.OnFailure)
	if s.FailHop != 0 {
		b = append(b, `,"fail_hop":`...)
		b = strconv.AppendInt(b, int64(s.FailHop), 10)
	}
	b = append(b, `,"start":`...)
	b = appendTime(b, s.Start)
	if s.CreditShareBps != 0 {
		b = append(b, `,"credit_share_bps":`...)
		b = strconv.AppendInt(b, s.CreditShareBps, 10)
	}
	if s.Route != nil {
		rj := s.routeJSON
		if rj == nil {
			var err error
			if rj, err = json.Marshal(s.Route); err != nil {
				return nil, err
			}
		}
		b = append(b, `,"route":`...)
		b = append(b, rj...)
	}
	return append(b, '}'), nil
}
