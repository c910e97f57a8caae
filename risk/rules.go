package risk

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/interpreter"
	"github.com/goccy/go-yaml"
)

// Limits on a rule file.
const (
	MaxRules       = 200
	MaxExprLen     = 2000
	MaxRuleFileLen = 1 << 20
)

//go:embed rules/default.yaml
var defaultRulesYAML []byte

// DefaultRulesYAML returns the bundled default rule file (one file for every data set).
func DefaultRulesYAML() []byte { return bytes.Clone(defaultRulesYAML) }

// ActionKind is what a matched rule asks for.
type ActionKind string

// Actions. allow, review, hold and refuse decide the payment (the most severe
// wins); freeze, cut_credit_limit, downgrade_rating and report change a
// holder's state and are applied by the payments/ledger side (ActionApplier).
const (
	ActionAllow           ActionKind = "allow"
	ActionReview          ActionKind = "review"
	ActionHold            ActionKind = "hold"
	ActionRefuse          ActionKind = "refuse"
	ActionFreeze          ActionKind = "freeze"
	ActionCutCreditLimit  ActionKind = "cut_credit_limit"
	ActionDowngradeRating ActionKind = "downgrade_rating"
	ActionReport          ActionKind = "report"
)

// verdictRank orders the payment-deciding actions.
var verdictRank = map[ActionKind]int{ActionAllow: 0, ActionReview: 1, ActionHold: 2, ActionRefuse: 3}

var stateActions = map[ActionKind]bool{ActionFreeze: true, ActionCutCreditLimit: true, ActionDowngradeRating: true, ActionReport: true}

// Action is one action with its parameter (Percent for cut_credit_limit).
type Action struct {
	Kind    ActionKind `json:"kind"`
	Percent int        `json:"percent,omitempty"`
}

// String formats a as it is written in a rule file ("cut_credit_limit:80").
func (a Action) String() string {
	if a.Kind == ActionCutCreditLimit {
		return fmt.Sprintf("%s:%d", a.Kind, a.Percent)
	}
	return string(a.Kind)
}

// ParseAction parses "hold", "cut_credit_limit:80" and the like.
func ParseAction(s string) (Action, error) {
	name, arg, hasArg := strings.Cut(strings.TrimSpace(s), ":")
	k := ActionKind(name)
	if _, ok := verdictRank[k]; !ok && !stateActions[k] {
		return Action{}, fmt.Errorf("action %q is not one of allow, review, hold, refuse, freeze, cut_credit_limit:PERCENT, downgrade_rating, report", s)
	}
	if k != ActionCutCreditLimit {
		if hasArg {
			return Action{}, fmt.Errorf("action %q takes no parameter", s)
		}
		return Action{Kind: k}, nil
	}
	p, err := strconv.Atoi(arg)
	if !hasArg || err != nil || p < 1 || p > 100 {
		return Action{}, fmt.Errorf("action %q: cut_credit_limit needs a percentage 1..100, e.g. cut_credit_limit:80", s)
	}
	return Action{Kind: k, Percent: p}, nil
}

// Rule is one rule of a rule file.
type Rule struct {
	ID          string `yaml:"id" json:"id"`
	Description string `yaml:"description" json:"description,omitempty"`
	// Pattern, when set, evaluates the rule only when that detector found a
	// candidate, and attaches the pattern and its members to the decision.
	Pattern    string   `yaml:"pattern" json:"pattern,omitempty"`
	Expr       string   `yaml:"expr" json:"expr"`
	Score      int      `yaml:"score" json:"score"`
	ActionsRaw []string `yaml:"actions" json:"-"`
	Actions    []Action `yaml:"-" json:"actions"`

	prg  cel.Program
	vars []int // indexes into featureVars referenced by Expr
}

// RuleSet is a compiled rule file.
type RuleSet struct {
	Rules []*Rule
}

type ruleFile struct {
	Rules []*Rule `yaml:"rules"`
}

// ErrRules is wrapped by every rule-file error.
var ErrRules = errors.New("invalid rule file")

var ruleIDPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{0,63}$`)

var celEnv = func() *cel.Env {
	opts := []cel.EnvOption{cel.CrossTypeNumericComparisons(true)}
	for _, v := range featureVars {
		t := map[byte]*cel.Type{'i': cel.IntType, 'f': cel.DoubleType, 'b': cel.BoolType, 's': cel.StringType}[v.kind]
		opts = append(opts, cel.Variable(v.name, t))
	}
	env, err := cel.NewEnv(opts...)
	if err != nil {
		panic("risk: building the CEL environment: " + err.Error()) // programming error, caught by every test
	}
	return env
}()

var identRE = regexp.MustCompile(`[A-Za-z_][A-Za-z0-9_]*`)

// ParseRules compiles a YAML rule file. Errors name the rule and field.
func ParseRules(data []byte) (*RuleSet, error) {
	if len(data) > MaxRuleFileLen {
		return nil, fmt.Errorf("%w: file is larger than %d bytes", ErrRules, MaxRuleFileLen)
	}
	var rf ruleFile
	if err := yaml.UnmarshalWithOptions(data, &rf, yaml.Strict()); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrRules, err)
	}
	if len(rf.Rules) == 0 {
		return nil, fmt.Errorf("%w: rules: the file has no rules", ErrRules)
	}
	if len(rf.Rules) > MaxRules {
		return nil, fmt.Errorf("%w: rules: more than %d rules", ErrRules, MaxRules)
	}
	seen := map[string]bool{}
	for i, r := range rf.Rules {
		if r == nil {
			return nil, fmt.Errorf("%w: rules[%d]: empty rule", ErrRules, i)
		}
		if err := r.compile(); err != nil {
			return nil, fmt.Errorf("%w: rules[%d] (%s): %v", ErrRules, i, r.ID, err)
		}
		if seen[r.ID] {
			return nil, fmt.Errorf("%w: rules[%d]: id %q is used twice", ErrRules, i, r.ID)
		}
		seen[r.ID] = true
	}
	return &RuleSet{Rules: rf.Rules}, nil
}

// DefaultRules compiles the bundled default rule file.
func DefaultRules() *RuleSet {
	rs, err := ParseRules(defaultRulesYAML)
	if err != nil {
		panic("risk: the bundled rules/default.yaml does not compile: " + err.Error()) // caught by TestDefaultRules
	}
	return rs
}

func (r *Rule) compile() error {
	if !ruleIDPattern.MatchString(r.ID) {
		return fmt.Errorf("id: %q must be 1-64 lower-case letters, digits, '.', '_' or '-'", r.ID)
	}
	if r.Pattern != "" && !containsString(Families, r.Pattern) {
		return fmt.Errorf("pattern: %q is not one of %s", r.Pattern, strings.Join(Families, ", "))
	}
	if strings.TrimSpace(r.Expr) == "" || len(r.Expr) > MaxExprLen {
		return fmt.Errorf("expr: must be 1..%d bytes", MaxExprLen)
	}
	if r.Score < 0 || r.Score > 1000 {
		return fmt.Errorf("score: %d is outside 0..1000", r.Score)
	}
	if len(r.ActionsRaw) == 0 {
		return errors.New("actions: at least one action is needed (allow, review, hold, refuse, freeze, cut_credit_limit:PERCENT, downgrade_rating, report)")
	}
	r.Actions = r.Actions[:0]
	for _, s := range r.ActionsRaw {
		a, err := ParseAction(s)
		if err != nil {
			return fmt.Errorf("actions: %v", err)
		}
		r.Actions = append(r.Actions, a)
	}
	ast, iss := celEnv.Compile(r.Expr)
	if iss != nil && iss.Err() != nil {
		return fmt.Errorf("expr: %v", strings.ReplaceAll(iss.Err().Error(), "\n", " "))
	}
	if ast.OutputType() != cel.BoolType {
		return fmt.Errorf("expr: must be a boolean, is %s", ast.OutputType())
	}
	prg, err := celEnv.Program(ast, cel.EvalOptions(cel.OptOptimize))
	if err != nil {
		return fmt.Errorf("expr: %v", err)
	}
	r.prg = prg
	r.vars = r.vars[:0]
	for _, id := range identRE.FindAllString(r.Expr, -1) {
		for i, v := range featureVars {
			if v.name == id && !containsInt(r.vars, i) {
				r.vars = append(r.vars, i)
			}
		}
	}
	return nil
}

func containsString(s []string, x string) bool {
	for _, y := range s {
		if y == x {
			return true
		}
	}
	return false
}

func containsInt(s []int, x int) bool {
	for _, y := range s {
		if y == x {
			return true
		}
	}
	return false
}

// featureIndex maps a variable name to its featureVars index.
var featureIndex = func() map[string]int {
	m := make(map[string]int, len(featureVars))
	for i, v := range featureVars {
		m[v.name] = i
	}
	return m
}()

// activation resolves CEL variables from a Features value without building a map.
type activation struct{ f *Features }

// ResolveName implements interpreter.Activation.
func (a activation) ResolveName(name string) (any, bool) {
	i, ok := featureIndex[name]
	if !ok {
		return nil, false
	}
	return featureVars[i].get(a.f), true
}

// Parent implements interpreter.Activation: there is none.
func (a activation) Parent() interpreter.Activation { return nil }
