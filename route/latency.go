package route

import (
	"math"
	"sync"

	"github.com/paybridge/paybridge/ecosystem"
)

// Distribution is a hop's latency distribution in seconds.
type Distribution struct {
	Family string  // ecosystem.LatencyInstant, LatencyFixed, LatencyLogNormal, LatencyUniform
	Min    float64 // uniform lower bound; lognormal shift
	Max    float64 // uniform upper bound
	Fixed  float64 // fixed value
	Mu     float64 // lognormal: ln of the unshifted median
	Sigma  float64 // lognormal: (ln p95 − ln p50) / z(0.95)
}

// z95 is the standard normal 95th percentile.
const z95 = 1.6448536269514722

// HopLatency returns the latency distribution of a channel. For a lognormal,
// P50 and P95 are quantiles of the unshifted part and Min is added to every
// draw, so the hop's median is Min+P50. An unknown family is instant (the
// loader refuses those).
func HopLatency(ch *ecosystem.Channel) Distribution {
	l := ch.Latency
	secs := func(d interface{ Seconds() float64 }) float64 { return d.Seconds() }
	switch l.Dist {
	case ecosystem.LatencyFixed:
		return Distribution{Family: l.Dist, Fixed: secs(l.P50)}
	case ecosystem.LatencyUniform:
		return Distribution{Family: l.Dist, Min: secs(l.Min), Max: secs(l.Max)}
	case ecosystem.LatencyLogNormal:
		p50, p95 := secs(l.P50), secs(l.P95)
		d := Distribution{Family: l.Dist, Min: secs(l.Min)}
		if p50 > 0 {
			d.Mu = math.Log(p50)
			if p95 > p50 {
				d.Sigma = (math.Log(p95) - d.Mu) / z95
			}
		} else {
			d.Mu = math.Inf(-1)
		}
		return d
	}
	return Distribution{Family: ecosystem.LatencyInstant}
}

// Quantile returns the p-quantile in seconds, p clamped to [0, 1].
func (d Distribution) Quantile(p float64) float64 {
	p = min(max(p, 0), 1)
	switch d.Family {
	case ecosystem.LatencyFixed:
		return d.Fixed
	case ecosystem.LatencyUniform:
		return d.Min + p*(d.Max-d.Min)
	case ecosystem.LatencyLogNormal:
		return d.logNormalAt(normalQuantile(p))
	}
	return 0
}

// logNormalAt is the lognormal's value at standard normal score z.
func (d Distribution) logNormalAt(z float64) float64 {
	if math.IsInf(d.Mu, -1) {
		return d.Min
	}
	if math.IsInf(z, 1) {
		return math.Inf(1)
	}
	return d.Min + math.Exp(d.Mu+d.Sigma*z)
}

// Mean returns the exact mean in seconds.
func (d Distribution) Mean() float64 {
	switch d.Family {
	case ecosystem.LatencyFixed:
		return d.Fixed
	case ecosystem.LatencyUniform:
		return (d.Min + d.Max) / 2
	case ecosystem.LatencyLogNormal:
		if math.IsInf(d.Mu, -1) {
			return d.Min
		}
		return d.Min + math.Exp(d.Mu+d.Sigma*d.Sigma/2)
	}
	return 0
}

// CDF returns P(latency ≤ x seconds).
func (d Distribution) CDF(x float64) float64 {
	switch d.Family {
	case ecosystem.LatencyFixed:
		return indicator(x >= d.Fixed)
	case ecosystem.LatencyUniform:
		if d.Max <= d.Min {
			return indicator(x >= d.Min)
		}
		return min(max((x-d.Min)/(d.Max-d.Min), 0), 1)
	case ecosystem.LatencyLogNormal:
		if x <= d.Min {
			return 0
		}
		if d.Sigma == 0 || math.IsInf(d.Mu, -1) {
			return indicator(x >= d.Min+math.Exp(d.Mu))
		}
		return 0.5 * math.Erfc(-(math.Log(x-d.Min)-d.Mu)/(d.Sigma*math.Sqrt2))
	}
	return indicator(x >= 0)
}

func indicator(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// normalQuantile is the standard normal quantile function.
func normalQuantile(p float64) float64 {
	return math.Sqrt2 * math.Erfinv(2*p-1)
}

// strata are the TimeSamples stratified probabilities (i+0.5)/N and their
// standard normal scores, computed once.
var strata = sync.OnceValue(func() (s struct{ u, z []float64 }) {
	s.u = make([]float64, TimeSamples)
	s.z = make([]float64, TimeSamples)
	for i := range TimeSamples {
		s.u[i] = (float64(i) + 0.5) / TimeSamples
		s.z[i] = normalQuantile(s.u[i])
	}
	return s
})

// samples returns the distribution's TimeSamples stratified quantiles, sorted.
func (d Distribution) samples() []float64 {
	st := strata()
	out := make([]float64, TimeSamples)
	for i := range out {
		switch d.Family {
		case ecosystem.LatencyLogNormal:
			out[i] = d.logNormalAt(st.z[i])
		default:
			out[i] = d.Quantile(st.u[i])
		}
	}
	return out
}
