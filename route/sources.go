package route

import "github.com/paybridge/paybridge/ecosystem"

// Kinds of a Source.
const (
	SourceChannel = "channel"
	SourceProduct = "product"
)

// Source is what the world says of one channel or product a result's routes
// use: where its figures come from and the dates it is in force
// (ecosystem.Channel.Source, ecosystem.Product.Source), "" when the world
// says nothing.
type Source struct {
	Kind       string `json:"kind"` // SourceChannel or SourceProduct
	ID         string `json:"id"`
	Source     string `json:"source,omitempty"`
	Unverified bool   `json:"unverified,omitempty"`
}

// sources lists, once each, the channels and then the products the routes
// use, each in the order of first use (routes in their ranked order, hops in
// route order, a hop's source product before its destination).
func sources(eco *ecosystem.Ecosystem, routes []Route) []Source {
	var channels, products []Source
	seen := map[string]bool{}
	addProduct := func(id string) {
		if seen["p/"+id] {
			return
		}
		seen["p/"+id] = true
		s := Source{Kind: SourceProduct, ID: id}
		if p, ok := eco.Product(id); ok {
			s.Source = p.Source()
		}
		products = append(products, s)
	}
	for _, r := range routes {
		for _, h := range r.Hops {
			addProduct(h.From)
			addProduct(h.To)
			if seen["c/"+h.Channel] {
				continue
			}
			seen["c/"+h.Channel] = true
			channels = append(channels, Source{Kind: SourceChannel, ID: h.Channel, Source: h.Source, Unverified: h.Unverified})
		}
	}
	return append(channels, products...)
}

// unverifiedHops counts the route's hops over unverified channels.
func (r *Route) unverifiedHops() int {
	n := 0
	for _, h := range r.Hops {
		if h.Unverified {
			n++
		}
	}
	return n
}

// UsedSources is res.Sources limited to the channels and products that
// res.Routes use, for a result whose routes were cut down after planning
// (`paybridge route --route ID` keeps one route).
func (res *Result) UsedSources() []Source {
	used := map[string]bool{}
	for _, r := range res.Routes {
		for _, h := range r.Hops {
			used[SourceChannel+" "+h.Channel] = true
			used[SourceProduct+" "+h.From] = true
			used[SourceProduct+" "+h.To] = true
		}
	}
	var out []Source
	for _, s := range res.Sources {
		if used[s.Kind+" "+s.ID] {
			out = append(out, s)
		}
	}
	return out
}
