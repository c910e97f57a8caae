package riskfeed

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/gob"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/paybridge/paybridge/payment"
	"github.com/paybridge/paybridge/risk"
)

// FeedSnapshotVersion is the version of the feed snapshot format (outbox
// seq, converter state, engine snapshot). A snapshot of another version is
// not used: the feed replays the outbox from seq 0 instead.
const FeedSnapshotVersion = 1

const feedSnapMagic = "PBFEEDSNAP"

// feedSnapHeaderLen is magic, version and the payload's SHA-256.
const feedSnapHeaderLen = len(feedSnapMagic) + 4 + sha256.Size

// ErrSnapshotUnusable is wrapped by the reason a Feed did not use a stored
// snapshot (corrupt, another version or rule set, ahead of the cursor, an
// outbox without its seq); the feed then replays from seq 0.
var ErrSnapshotUnusable = errors.New("snapshot not used")

// SnapshotStore keeps the snapshot a Feed saves beside its cursor: the
// engine's state and the converter's payments in flight as of an outbox
// seq, so that a feed in a new process replays only the events after it.
type SnapshotStore interface {
	// LoadSnapshot returns the stored snapshot, or nil when there is none.
	LoadSnapshot(ctx context.Context) ([]byte, error)
	// SaveSnapshot replaces it.
	SaveSnapshot(ctx context.Context, data []byte) error
}

// StoreSnapshots keeps the snapshot in the case database under Name
// (table risk_snapshots), beside a StoreCursor of the same name.
type StoreSnapshots struct {
	Store *risk.SQLiteStore
	Name  string
}

// LoadSnapshot implements SnapshotStore.
func (s StoreSnapshots) LoadSnapshot(ctx context.Context) ([]byte, error) {
	return s.Store.Snapshot(ctx, s.Name)
}

// SaveSnapshot implements SnapshotStore.
func (s StoreSnapshots) SaveSnapshot(ctx context.Context, data []byte) error {
	return s.Store.SetSnapshot(ctx, s.Name, data)
}

// FileSnapshots keeps the snapshot in a file (written to a temporary file
// in the same directory and renamed over it, so a crash leaves the old
// one or the new one), for a feed whose cursor is in the ledger.
type FileSnapshots struct{ Path string }

// LoadSnapshot implements SnapshotStore.
func (s FileSnapshots) LoadSnapshot(context.Context) ([]byte, error) {
	b, err := os.ReadFile(s.Path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	return b, err
}

// SaveSnapshot implements SnapshotStore.
func (s FileSnapshots) SaveSnapshot(_ context.Context, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(s.Path), filepath.Base(s.Path)+".tmp*")
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), s.Path)
	}
	if err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("snapshot file %s: %w", s.Path, err)
	}
	return nil
}

// feedSnap is what a feed snapshot carries.
type feedSnap struct {
	Seq       uint64 // the last outbox seq the engine and converter have taken in
	Mark      string // eventMark of the outbox event at Seq: tells another ledger's outbox apart
	Converter []byte // convState as JSON
	Engine    []byte // risk.Engine.Snapshot
}

// convState is the converter's memory of payments in flight.
type convState struct {
	Specs   map[string]*payment.Spec `json:"specs"`
	Started []convHop                `json:"started,omitempty"`
	Posted  []convHop                `json:"posted,omitempty"`
}

type convHop struct {
	Payment string `json:"payment"`
	Hop     int    `json:"hop"`
	Amount  int64  `json:"amount,omitempty"`
}

func (c *Converter) state() convState {
	st := convState{Specs: c.specs}
	for k, a := range c.started {
		st.Started = append(st.Started, convHop{k.payment, k.hop, a})
	}
	for k := range c.posted {
		st.Posted = append(st.Posted, convHop{Payment: k.payment, Hop: k.hop})
	}
	return st
}

// load sets the converter's memory to st (the converter must be fresh).
func (c *Converter) load(st convState) {
	if st.Specs != nil {
		c.specs = st.Specs
	}
	for _, h := range st.Started {
		c.started[hopKey{h.Payment, h.Hop}] = h.Amount
	}
	for _, h := range st.Posted {
		c.posted[hopKey{h.Payment, h.Hop}] = true
	}
}

// encodeFeedSnapshot writes magic, version, SHA-256 and the gob payload.
func encodeFeedSnapshot(s feedSnap) ([]byte, error) {
	var payload bytes.Buffer
	if err := gob.NewEncoder(&payload).Encode(&s); err != nil {
		return nil, err
	}
	out := make([]byte, 0, feedSnapHeaderLen+payload.Len())
	out = append(out, feedSnapMagic...)
	out = binary.BigEndian.AppendUint32(out, FeedSnapshotVersion)
	sum := sha256.Sum256(payload.Bytes())
	out = append(out, sum[:]...)
	return append(out, payload.Bytes()...), nil
}

// decodeFeedSnapshot checks the header and checksum and decodes the
// payload and the converter state; the engine part is checked by
// risk.Engine.Restore.
func decodeFeedSnapshot(data []byte) (feedSnap, convState, error) {
	var s feedSnap
	var cs convState
	if len(data) < feedSnapHeaderLen || string(data[:len(feedSnapMagic)]) != feedSnapMagic {
		return s, cs, errors.New("not a feed snapshot")
	}
	if v := binary.BigEndian.Uint32(data[len(feedSnapMagic):]); v != FeedSnapshotVersion {
		return s, cs, fmt.Errorf("feed snapshot version %d, this paybridge reads version %d", v, FeedSnapshotVersion)
	}
	payload := data[feedSnapHeaderLen:]
	if sum := sha256.Sum256(payload); !bytes.Equal(sum[:], data[len(feedSnapMagic)+4:feedSnapHeaderLen]) {
		return s, cs, errors.New("checksum mismatch: the snapshot is corrupt")
	}
	if err := gob.NewDecoder(bytes.NewReader(payload)).Decode(&s); err != nil {
		return s, cs, fmt.Errorf("decoding: %v", err)
	}
	if s.Seq == 0 {
		return s, cs, errors.New("snapshot at outbox seq 0")
	}
	if err := json.Unmarshal(s.Converter, &cs); err != nil {
		return s, cs, fmt.Errorf("converter state: %v", err)
	}
	for id, sp := range cs.Specs {
		if sp == nil || sp.Route == nil {
			return s, cs, fmt.Errorf("converter state: payment %q has no route", id)
		}
	}
	return s, cs, nil
}

// SnapshotStatus says what a Feed did with its stored snapshot on its
// first poll.
type SnapshotStatus struct {
	// Loaded is true when the engine and converter were restored from a
	// snapshot at outbox seq Seq, and only later events were replayed.
	Loaded bool   `json:"loaded"`
	Seq    uint64 `json:"seq,omitempty"`
	// Fallback is why a stored snapshot was not used (the feed replayed
	// from seq 0), empty when none was stored or it was used.
	Fallback string `json:"fallback,omitempty"`
	// Saved is the outbox seq of the last snapshot this feed saved.
	Saved uint64 `json:"saved,omitempty"`
}

// SnapshotStatus reports what the feed did with its snapshot store.
func (f *Feed) SnapshotStatus() SnapshotStatus { return f.snap }

// loadSnapshot restores the engine and converter from f.Snapshots when
// the stored snapshot is usable for this outbox and cursor; otherwise it
// leaves both untouched, records and logs why, and the feed replays from 0.
func (f *Feed) loadSnapshot(ctx context.Context, cursor uint64) {
	f.snapTried = true
	err := f.restore(ctx, cursor)
	if err == nil {
		return
	}
	f.snap.Fallback = err.Error()
	f.logf("%v; replaying the outbox from seq 0", err)
}

func (f *Feed) restore(ctx context.Context, cursor uint64) error {
	unusable := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrSnapshotUnusable, fmt.Sprintf(format, args...))
	}
	data, err := f.Snapshots.LoadSnapshot(ctx)
	switch {
	case err != nil:
		return unusable("reading it: %v", err)
	case data == nil:
		return nil // none stored yet: nothing to say
	}
	s, cs, err := decodeFeedSnapshot(data)
	if err != nil {
		return unusable("%v", err)
	}
	if s.Seq > cursor {
		return unusable("it is at outbox seq %d, beyond the cursor at %d", s.Seq, cursor)
	}
	evs, err := f.Outbox.Read(ctx, s.Seq-1, 1)
	if err != nil {
		return unusable("reading outbox seq %d: %v", s.Seq, err)
	}
	if len(evs) == 0 || evs[0].Seq != s.Seq {
		return unusable("the outbox has no seq %d (was the ledger recreated?)", s.Seq)
	}
	if m := eventMark(evs[0]); m != s.Mark {
		return unusable("outbox seq %d is %q, the snapshot was taken after %q (was the ledger recreated?)", s.Seq, m, s.Mark)
	}
	if f.Conv.InFlight() != 0 || len(f.Conv.started) != 0 || len(f.Conv.posted) != 0 {
		return unusable("the converter has already seen payments")
	}
	if err := f.Engine.Restore(s.Engine); err != nil {
		return unusable("%v", err)
	}
	f.Conv.load(cs)
	f.replay, f.mark = s.Seq, s.Mark
	f.snap = SnapshotStatus{Loaded: true, Seq: s.Seq, Saved: s.Seq}
	return nil
}

// SaveSnapshot saves the engine's and converter's state as of the last
// outbox seq the feed took in, when that moved since the last snapshot and
// no hop awaits a retry. Poll calls it (see SnapshotEvery); call it
// before a long-running feed stops. The snapshot never runs ahead of the
// saved cursor: Poll saves the cursor first.
func (f *Feed) SaveSnapshot(ctx context.Context) error {
	if f.Snapshots == nil || f.replay <= f.snap.Saved || len(f.pending) > 0 {
		return nil
	}
	eng, err := f.Engine.Snapshot()
	if err != nil {
		return err
	}
	conv, err := json.Marshal(f.Conv.state())
	if err != nil {
		return fmt.Errorf("risk feed: encoding the converter state: %w", err)
	}
	data, err := encodeFeedSnapshot(feedSnap{Seq: f.replay, Mark: f.mark, Converter: conv, Engine: eng})
	if err != nil {
		return fmt.Errorf("risk feed: encoding the snapshot: %w", err)
	}
	if err := f.Snapshots.SaveSnapshot(ctx, data); err != nil {
		return fmt.Errorf("risk feed: saving the snapshot: %w", err)
	}
	f.snap.Saved = f.replay
	return nil
}

// eventMark identifies an outbox event (type, payment, hop, time) so that
// a snapshot can tell whether the outbox it is restored against is the one
// it was taken from.
func eventMark(ev payment.Event) string {
	return fmt.Sprintf("%s %s/%d %s", ev.Type, ev.Payment, ev.Hop, ev.At.UTC().Format(time.RFC3339Nano))
}

func (f *Feed) logf(format string, args ...any) {
	if f.Logf != nil {
		f.Logf(format, args...)
	}
}
