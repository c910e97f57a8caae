// Package risk is paybridge's cross-platform risk engine. It consumes
// transaction events in time order, keeps bounded sliding-window features per
// holder and a funds graph over holders, runs pattern detectors (cycles,
// fan-in, fan-out, gather-scatter, scatter-gather, mule chains) and evaluates
// rules written as data (CEL expressions) into explainable decisions.
//
// The engine is deterministic: its output is a function of the event stream
// and the rule set. It never reads evaluation labels and performs no I/O; the
// caller feeds events (Engine.Observe), asks inline questions before a hop
// commits (Engine.Check) and applies the state-changing actions it returns
// (freeze, cut_credit_limit, downgrade_rating) through an ActionApplier, each
// to the holder its match targets (Match.Target: the cycle's credit holder,
// the intermediary, the mule, the hub; Decision.ActionTargets).
//
// Engine.Snapshot encodes the engine's bounded state (versioned, with a
// checksum and the rule set's fingerprint) and Engine.Restore loads it into
// a fresh engine, so a restarted process replays only later events.
package risk
