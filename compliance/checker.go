package compliance

import (
	"fmt"
	"reflect"
	"strings"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/cost"
	"cel.dev/cel-go/ext"
	"cel.dev/cel-go/interpreter"

	"github.com/paybridge/paybridge/ecosystem"
)

// Limits on rules and their evaluation.
const (
	// MaxExpressionBytes is the longest `when` expression accepted.
	MaxExpressionBytes = 4096
	// MaxRules is the most rules one Checker holds.
	MaxRules = 10_000
	// maxParseDepth bounds the nesting of an expression.
	maxParseDepth = 64
	// MaxEstimatedCost bounds the worst-case work of one rule evaluation (CEL
	// cost units, roughly one per operation), estimated when the rule compiles
	// with lists and maps of up to assumedListSize items and strings of up to
	// assumedStringBytes bytes. It keeps a runaway comprehension out of the
	// planner's inner loop without paying for cost tracking on every check.
	MaxEstimatedCost = 1_000_000

	assumedListSize    = 64
	assumedStringBytes = 1024
)

// The CEL variables rules see: hop rules see `hop`, route rules see `route`.
const (
	VarHop   = "hop"
	VarRoute = "route"
)

// Effects and verdicts, as they appear in findings and route reports.
const (
	EffectRefuse  = ecosystem.EffectRefuse
	EffectWarn    = ecosystem.EffectWarn
	EffectRequire = ecosystem.EffectRequire

	VerdictAllowed = "allowed"
	VerdictWarned  = "warned"
	VerdictRefused = "refused"
)

// ParsePolicy turns a --policy value into a Policy; "" means PolicyStrict.
func ParsePolicy(s string) (Policy, error) {
	switch Policy(s) {
	case "", PolicyStrict:
		return PolicyStrict, nil
	case PolicyAdvisory:
		return PolicyAdvisory, nil
	}
	return "", fmt.Errorf("policy %q is not one of strict, advisory", s)
}

// Checker holds an ecosystem's rules compiled once, ready to check hops and
// routes. It is safe for concurrent use.
type Checker struct {
	policy     Policy
	hopRules   []compiledRule
	routeRules []compiledRule
}

type compiledRule struct {
	rule ecosystem.Rule
	prg  cel.Program
	// effect is the rule's effect after the policy is applied.
	effect string
}

// envs are the two CEL environments, one per scope, built once.
type envs struct {
	hop, route *cel.Env
}

var sharedEnvs = mustEnvs()

func mustEnvs() envs {
	hop, err := newEnv(VarHop, "compliance.Hop")
	if err != nil {
		panic("compliance: building the hop CEL environment: " + err.Error()) // a programming error, caught by any test
	}
	route, err := newEnv(VarRoute, "compliance.Route")
	if err != nil {
		panic("compliance: building the route CEL environment: " + err.Error())
	}
	return envs{hop: hop, route: route}
}

// newEnv declares one variable of a native struct type whose CEL field names
// are the structs' json names (hop.credit_share_bps, route.hops[0].from.kind).
func newEnv(name, typeName string) (*cel.Env, error) {
	return cel.NewEnv(
		ext.NativeTypes(
			ext.ParseStructTag("json"),
			reflect.TypeFor[Hop](),
			reflect.TypeFor[Route](),
			reflect.TypeFor[Account](),
		),
		ext.Strings(),
		cel.Variable(name, cel.ObjectType(typeName)),
		cel.ParserRecursionLimit(maxParseDepth),
		cel.ParserExpressionSizeLimit(MaxExpressionBytes),
	)
}

func (e envs) forScope(scope string) (*cel.Env, bool) {
	switch scope {
	case ecosystem.RuleScopeHop:
		return e.hop, true
	case ecosystem.RuleScopeRoute:
		return e.route, true
	}
	return nil, false
}

// NewChecker compiles every rule's `when` expression once. Under
// PolicyAdvisory a refuse rule marked advisory reports warn instead. It
// returns an *ecosystem.Error listing every rule that does not compile, each
// by field path ("rules[3].when: undeclared reference to 'hopp'").
func NewChecker(rules []ecosystem.Rule, policy Policy) (*Checker, error) {
	policy, err := ParsePolicy(string(policy))
	if err != nil {
		return nil, err
	}
	if len(rules) > MaxRules {
		return nil, fmt.Errorf("rules: %d rules, more than the limit of %d", len(rules), MaxRules)
	}
	c := &Checker{policy: policy}
	var problems []ecosystem.Problem
	for i, r := range rules {
		prg, ps := compileRule(i, r)
		if len(ps) > 0 {
			problems = append(problems, ps...)
			continue
		}
		cr := compiledRule{rule: r, prg: prg, effect: effectUnder(r, policy)}
		if r.Scope == ecosystem.RuleScopeHop {
			c.hopRules = append(c.hopRules, cr)
		} else {
			c.routeRules = append(c.routeRules, cr)
		}
	}
	if len(problems) > 0 {
		return nil, &ecosystem.Error{Problems: problems}
	}
	return c, nil
}

// Validate compiles rules and returns every problem by field path, or nil.
// Its signature fits ecosystem.Check through LoadCheck.
func Validate(rules []ecosystem.Rule) []ecosystem.Problem {
	var problems []ecosystem.Problem
	for i, r := range rules {
		_, ps := compileRule(i, r)
		problems = append(problems, ps...)
	}
	return problems
}

// LoadCheck is an ecosystem.Check that compiles the ecosystem's rules, so a
// file with a broken `when` fails to load with file:line:column.
func LoadCheck(e *ecosystem.Ecosystem) []ecosystem.Problem { return Validate(e.Rules) }

// compileRule checks and compiles one rule, or returns its problems.
func compileRule(i int, r ecosystem.Rule) (cel.Program, []ecosystem.Problem) {
	path := fmt.Sprintf("rules[%d]", i)
	problem := func(field, format string, args ...any) []ecosystem.Problem {
		return []ecosystem.Problem{{Path: path + "." + field, Reason: fmt.Sprintf(format, args...)}}
	}
	env, ok := sharedEnvs.forScope(r.Scope)
	if !ok {
		return nil, problem("scope", "%q is not one of hop, route", r.Scope)
	}
	switch r.Effect {
	case EffectRefuse, EffectWarn, EffectRequire:
	default:
		return nil, problem("effect", "%q is not one of refuse, warn, require", r.Effect)
	}
	if strings.TrimSpace(r.When) == "" {
		return nil, problem("when", "must not be empty: a CEL expression that is true when the rule applies")
	}
	if len(r.When) > MaxExpressionBytes {
		return nil, problem("when", "is %d bytes long; the limit is %d", len(r.When), MaxExpressionBytes)
	}
	ast, iss := env.Compile(r.When)
	if iss != nil && iss.Err() != nil {
		return nil, problem("when", "%s%s", celMessage(iss), scopeHint(r.Scope, iss))
	}
	if !ast.OutputType().IsExactType(cel.BoolType) {
		return nil, problem("when", "must be a true/false expression, but it gives %s", ast.OutputType())
	}
	est, err := env.EstimateCost(ast, sizeHints{})
	if err != nil {
		return nil, problem("when", "estimating its cost: %s", err)
	}
	if est.Max > MaxEstimatedCost {
		return nil, problem("when", "may do up to %d units of work, more than the limit of %d; avoid nested comprehensions", est.Max, MaxEstimatedCost)
	}
	prg, err := env.Program(ast, cel.EvalOptions(cel.OptOptimize))
	if err != nil {
		return nil, problem("when", "%s", err)
	}
	return prg, nil
}

// celMessage renders CEL's issues on one line, without its source excerpt.
func celMessage(iss *cel.Issues) string {
	var msgs []string
	for _, e := range iss.Errors() {
		msg := strings.TrimSuffix(e.Message, " (in container '')")
		msgs = append(msgs, msg)
	}
	if len(msgs) == 0 {
		return strings.ReplaceAll(iss.Err().Error(), "\n", " ")
	}
	return strings.Join(msgs, "; ")
}

// scopeHint explains a reference to the other scope's variable.
func scopeHint(scope string, iss *cel.Issues) string {
	other := VarRoute
	if scope == ecosystem.RuleScopeRoute {
		other = VarHop
	}
	if strings.Contains(iss.Err().Error(), "undeclared reference to '"+other+"'") {
		return fmt.Sprintf(" (a rule with scope %s sees only the variable %s)", scope, scopeVar(scope))
	}
	return ""
}

func scopeVar(scope string) string {
	if scope == ecosystem.RuleScopeRoute {
		return VarRoute
	}
	return VarHop
}

// effectUnder is a rule's effect under a policy.
func effectUnder(r ecosystem.Rule, policy Policy) string {
	if r.Effect == EffectRefuse && r.Advisory && policy == PolicyAdvisory {
		return EffectWarn
	}
	return r.Effect
}

// Policy returns the policy the checker applies.
func (c *Checker) Policy() Policy { return c.policy }

// HasRouteRules reports whether any rule has scope route.
func (c *Checker) HasRouteRules() bool { return len(c.routeRules) > 0 }

// CheckHop evaluates every hop rule against h, in rule order, and returns the
// findings of the rules that matched (nil when none did). A rule whose
// evaluation fails refuses the hop and says why.
func (c *Checker) CheckHop(h Hop) []Finding {
	if len(c.hopRules) == 0 {
		return nil
	}
	vars := &hopVars{hop: &h}
	var out []Finding
	for i := range c.hopRules {
		if f, ok := c.hopRules[i].eval(vars); ok {
			f.Hop = h.Index
			out = append(out, f)
		}
	}
	return out
}

// CheckRoute evaluates every route rule against r, in rule order.
func (c *Checker) CheckRoute(r Route) []Finding {
	if len(c.routeRules) == 0 {
		return nil
	}
	vars := &routeVars{route: &r}
	var out []Finding
	for i := range c.routeRules {
		if f, ok := c.routeRules[i].eval(vars); ok {
			out = append(out, f)
		}
	}
	return out
}

// eval runs one rule; ok is true when it produced a finding.
func (cr *compiledRule) eval(vars interpreter.Activation) (f Finding, ok bool) {
	val, _, err := cr.prg.Eval(vars)
	if err == nil {
		matched, isBool := val.Value().(bool)
		if !isBool {
			err = fmt.Errorf("the expression gave %v, not true or false", val)
		} else if !matched {
			return Finding{}, false
		}
	}
	f = Finding{Rule: cr.rule.ID, Effect: cr.effect, Citation: cr.rule.Citation, Message: cr.rule.Message}
	if err != nil {
		f.Effect = EffectRefuse
		f.Message = fmt.Sprintf("rule %s could not be evaluated (%s), so the hop is refused rather than allowed unchecked", cr.rule.ID, evalMessage(err))
	}
	return f, true
}

func evalMessage(err error) string { return strings.ReplaceAll(err.Error(), "\n", " ") }

// sizeHints gives the cost estimator a size for every list, map and string
// whose size the expression itself does not fix.
type sizeHints struct{}

func (sizeHints) EstimateSize(n cost.AstNode) *cost.SizeEstimate {
	if n.Type() != nil && n.Type().IsExactType(cel.StringType) {
		return &cost.SizeEstimate{Min: 0, Max: assumedStringBytes}
	}
	return &cost.SizeEstimate{Min: 0, Max: assumedListSize}
}

func (sizeHints) EstimateCallCost(string, string, *cost.AstNode, []cost.AstNode) *cost.CallEstimate {
	return nil
}

// Verdict summarises findings: refused if any refuses, warned if any warns,
// allowed otherwise. A require finding (something the holder must do first,
// such as applying for a service) leaves a route allowed; it is listed.
func Verdict(findings []Finding) string {
	verdict := VerdictAllowed
	for _, f := range findings {
		switch f.Effect {
		case EffectRefuse:
			return VerdictRefused
		case EffectWarn:
			verdict = VerdictWarned
		}
	}
	return verdict
}

// hopVars and routeVars bind the one variable of each scope without a map.
type hopVars struct{ hop *Hop }

func (a *hopVars) ResolveName(name string) (any, bool) {
	if name == VarHop {
		return a.hop, true
	}
	return nil, false
}

func (a *hopVars) Parent() interpreter.Activation { return nil }

type routeVars struct{ route *Route }

func (a *routeVars) ResolveName(name string) (any, bool) {
	if name == VarRoute {
		return a.route, true
	}
	return nil, false
}

func (a *routeVars) Parent() interpreter.Activation { return nil }
