package policy

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"

	"github.com/secure-build/secure-build/vuln"
)

// FileName is the policy file a build picks up from its context's root.
const FileName = "secure-build.yaml"

// Schema is the published JSON Schema of the policy file.
//
//go:embed schema/secure-build.schema.json
var Schema []byte

// Action is what a rule does when it is broken.
type Action string

const (
	Fail Action = "fail"
	Warn Action = "warn"
	Off  Action = "off"
)

// Policy is a policy file, read and checked, with the defaults filled in
// where it is silent.
type Policy struct {
	// Source names the file, for messages; "" for the defaults.
	Source string

	Threshold Threshold
	// MaxCounts tolerate this many gating findings of a severity before
	// failing; a severity listed is counted instead of failing at the first.
	MaxCounts map[vuln.Severity]int
	Ignore    []Ignore
	// VEX lists the documents the file names, as written: paths relative
	// to the file, or URLs. The caller reads them and calls AddVEX.
	VEX []string

	Licenses  Licenses
	BaseImage BaseImageRules
	Docker    DockerfileRules
	// Incomplete is what an incomplete scan does: Fail by default.
	Incomplete Action

	vex []vexDocument
}

// Ignore is one entry of vulnerabilities.ignore.
type Ignore struct {
	ID       string
	Package  string
	Versions string
	Reason   string
	// Expires is the last day the entry suppresses; zero for never.
	Expires time.Time
	// Line is where the entry starts in the file, 0 when unknown.
	Line int
}

// Licenses is the licenses rule: deny some, or allow only some.
type Licenses struct {
	Action Action
	Deny   []string
	Allow  []string
}

// BaseImageRules are the practices about the final stage's base image.
type BaseImageRules struct {
	Pinned        Action
	RequireDigest bool
	Repositories  Action
	AllowedRepos  []string
	MaxAge        Action
	MaxAgeDays    int
	// Refresh is what a build does when its base image's tag now names a
	// refreshed image that fixes gating findings: the build is stale, not
	// the code.
	Refresh Action
}

// DockerfileRules are the practices read off the Dockerfile and the final
// image's config.
type DockerfileRules struct {
	MultiStage      Action
	NoDistroUpgrade Action
	NonRootUser     Action
}

// Defaults is the policy with no file: fail on a fixable critical, warn on
// the practices.
func Defaults() *Policy {
	return &Policy{
		Threshold:  Default,
		Licenses:   Licenses{Action: Fail},
		BaseImage:  BaseImageRules{Pinned: Warn, Repositories: Warn, MaxAge: Warn, MaxAgeDays: DefaultMaxBaseAgeDays, Refresh: Warn},
		Docker:     DockerfileRules{MultiStage: Warn, NoDistroUpgrade: Warn, NonRootUser: Warn},
		Incomplete: Fail,
	}
}

// DefaultMaxBaseAgeDays is how old a base image may be before the max-age
// practice speaks, when the file does not say.
const DefaultMaxBaseAgeDays = 180

// fileDoc is the file's shape, as the schema has already checked it.
type fileDoc struct {
	Vulnerabilities *struct {
		FailOn      *string        `json:"fail-on"`
		OnlyFixable *bool          `json:"only-fixable"`
		Scope       *string        `json:"scope"`
		MaxCounts   map[string]int `json:"max-counts"`
		Ignore      []struct {
			ID       string `json:"id"`
			Package  string `json:"package"`
			Versions string `json:"versions"`
			Reason   string `json:"reason"`
			Expires  string `json:"expires"`
		} `json:"ignore"`
	} `json:"vulnerabilities"`
	VEX      []string `json:"vex"`
	Licenses *struct {
		Action Action   `json:"action"`
		Deny   []string `json:"deny"`
		Allow  []string `json:"allow"`
	} `json:"licenses"`
	BaseImage *struct {
		Pinned *struct {
			Action  Action `json:"action"`
			Require string `json:"require"`
		} `json:"pinned"`
		Repositories *struct {
			Action Action   `json:"action"`
			Allow  []string `json:"allow"`
		} `json:"repositories"`
		MaxAge *struct {
			Action Action `json:"action"`
			Days   int    `json:"days"`
		} `json:"max-age"`
		Refresh Action `json:"refresh"`
	} `json:"base-image"`
	Dockerfile *struct {
		MultiStage      *ruleDoc `json:"multi-stage"`
		NoDistroUpgrade *ruleDoc `json:"no-distro-upgrade"`
		NonRootUser     *ruleDoc `json:"non-root-user"`
	} `json:"dockerfile"`
	Scan *struct {
		Incomplete Action `json:"incomplete"`
	} `json:"scan"`
}

type ruleDoc struct {
	Action Action `json:"action"`
}

// FileError is an invalid policy file: where, and what is wrong.
type FileError struct {
	File string
	Line int // 0 when the error has no place in the file
	Msg  string
}

func (e *FileError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("policy %s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("policy %s: %s", e.File, e.Msg)
}

// FileErrors are all that is wrong with a file, in the order of the file.
type FileErrors []*FileError

func (es FileErrors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Parse reads a policy file: YAML that the published schema accepts. name
// is how messages name the file.
func Parse(name string, data []byte) (*Policy, error) {
	file, js, err := decodeYAML(name, data)
	if err != nil {
		return nil, err
	}
	if err := validate(name, file, js); err != nil {
		return nil, err
	}
	var doc fileDoc
	if err := json.Unmarshal(js, &doc); err != nil {
		return nil, &FileError{File: name, Msg: err.Error()}
	}
	return fromDoc(name, file, &doc)
}

func syntaxError(name string, err error) error {
	var se *yaml.SyntaxError
	if errors.As(err, &se) && se.Token != nil {
		return &FileError{File: name, Line: se.Token.Position.Line, Msg: "not valid YAML: " + se.Message}
	}
	return &FileError{File: name, Msg: "not valid YAML: " + err.Error()}
}

// compiledSchema is compiled when a policy file is first read, not at
// start: every run of the binary, the scan step's included, would pay it.
var compiledSchema = sync.OnceValue(func() *jsonschema.Schema {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(Schema))
	if err != nil {
		panic(fmt.Sprintf("policy schema: %v", err))
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("secure-build.schema.json", doc); err != nil {
		panic(fmt.Sprintf("policy schema: %v", err))
	}
	return c.MustCompile("secure-build.schema.json")
})

// validate checks the document against the schema and names each error's
// line in the file.
func validate(name string, file *ast.File, js []byte) error {
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(js))
	if err != nil {
		return &FileError{File: name, Msg: err.Error()}
	}
	err = compiledSchema().Validate(inst)
	if err == nil {
		return nil
	}
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return &FileError{File: name, Msg: err.Error()}
	}
	var out FileErrors
	for _, leaf := range leaves(ve) {
		loc, msg := leaf.InstanceLocation, leafMessage(leaf)
		line := lineOf(file, loc)
		if ap, ok := leaf.ErrorKind.(*kind.AdditionalProperties); ok {
			// Point at the unknown key itself, one error each.
			for _, key := range ap.Properties {
				at := append(slices.Clone(loc), key)
				line := keyLine(file, at)
				if line == 0 {
					line = lineOf(file, at)
				}
				msg := fmt.Sprintf("%s: unknown key '%s'", displayPath(loc), key)
				if known := closestKey(key, allowedKeys(loc)); known != "" {
					msg += fmt.Sprintf(" (did you mean '%s'?)", known)
				}
				out = append(out, &FileError{File: name, Line: line, Msg: msg})
			}
			continue
		}
		out = append(out, &FileError{File: name, Line: line, Msg: fmt.Sprintf("%s: %s", displayPath(loc), msg)})
	}
	slices.SortStableFunc(out, func(a, b *FileError) int { return a.Line - b.Line })
	if len(out) == 0 {
		return &FileError{File: name, Msg: ve.Error()}
	}
	return out
}

// leaves are the errors at the bottom of the schema's error tree, the ones
// that say what is wrong rather than which branch failed.
func leaves(ve *jsonschema.ValidationError) []*jsonschema.ValidationError {
	if len(ve.Causes) == 0 {
		return []*jsonschema.ValidationError{ve}
	}
	var out []*jsonschema.ValidationError
	for _, c := range ve.Causes {
		out = append(out, leaves(c)...)
	}
	return out
}

func leafMessage(ve *jsonschema.ValidationError) string {
	msg := ve.ErrorKind.LocalizedString(message.NewPrinter(language.English))
	if strings.Contains(msg, `does not match pattern`) && len(ve.InstanceLocation) > 0 {
		switch ve.InstanceLocation[len(ve.InstanceLocation)-1] {
		case "expires":
			return "want a date as YYYY-MM-DD"
		case "reason":
			return "a reason is required: say why the finding is ignored"
		}
	}
	return msg
}

// displayPath writes a schema error's place as the file's keys:
// vulnerabilities.ignore[0].reason.
func displayPath(loc []string) string {
	if len(loc) == 0 {
		return "the file"
	}
	var b strings.Builder
	for _, p := range loc {
		if _, err := strconv.Atoi(p); err == nil {
			fmt.Fprintf(&b, "[%s]", p)
			continue
		}
		if b.Len() > 0 {
			b.WriteString(".")
		}
		b.WriteString(p)
	}
	return b.String()
}

// allowedKeys are the keys the schema names at loc, the place of a
// mapping in the file.
func allowedKeys(loc []string) []string {
	s := compiledSchema()
	for _, p := range loc {
		for s != nil && s.Ref != nil {
			s = s.Ref
		}
		if s == nil {
			return nil
		}
		if _, err := strconv.Atoi(p); err == nil {
			s = s.Items2020
		} else {
			s = s.Properties[p]
		}
	}
	for s != nil && s.Ref != nil {
		s = s.Ref
	}
	if s == nil {
		return nil
	}
	keys := make([]string, 0, len(s.Properties))
	for k := range s.Properties {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// closestKey is the known key an unknown one is most likely a misspelling
// of: the nearest by edit distance, ignoring case, within a third of its
// length (two edits for a short key); "" when none is that near.
func closestKey(unknown string, known []string) string {
	best, bestDistance := "", max(2, len(unknown)/3)+1
	for _, k := range known {
		if d := editDistance(strings.ToLower(unknown), k); d < bestDistance {
			best, bestDistance = k, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance of a and b, in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

// lineOf finds the line of the deepest node of loc that the file has.
func lineOf(file *ast.File, loc []string) int {
	for n := len(loc); n >= 0; n-- {
		var b strings.Builder
		b.WriteString("$")
		for _, p := range loc[:n] {
			if _, err := strconv.Atoi(p); err == nil {
				fmt.Fprintf(&b, "[%s]", p)
			} else {
				fmt.Fprintf(&b, ".'%s'", p)
			}
		}
		path, err := yaml.PathString(b.String())
		if err != nil {
			continue
		}
		node, err := path.FilterFile(file)
		if err != nil || node == nil || node.GetToken() == nil {
			continue
		}
		return node.GetToken().Position.Line
	}
	return 0
}

func fromDoc(name string, file *ast.File, doc *fileDoc) (*Policy, error) {
	p := Defaults()
	p.Source = name
	var errs FileErrors
	bad := func(loc []string, format string, args ...any) {
		errs = append(errs, &FileError{File: name, Line: lineOf(file, loc), Msg: displayPath(loc) + ": " + fmt.Sprintf(format, args...)})
	}
	if v := doc.Vulnerabilities; v != nil {
		if v.FailOn != nil {
			level, err := ParseLevel(*v.FailOn)
			if err != nil {
				bad([]string{"vulnerabilities", "fail-on"}, "%v", err)
			}
			p.Threshold.FailOn = level
		}
		if v.OnlyFixable != nil {
			p.Threshold.OnlyFixable = *v.OnlyFixable
		}
		if v.Scope != nil {
			scope, err := ParseScope(*v.Scope)
			if err != nil {
				bad([]string{"vulnerabilities", "scope"}, "%v", err)
			}
			p.Threshold.Scope = scope
		}
		for sev, n := range v.MaxCounts {
			s, err := vuln.ParseSeverity(sev)
			if err != nil {
				bad([]string{"vulnerabilities", "max-counts", sev}, "%v", err)
				continue
			}
			if p.MaxCounts == nil {
				p.MaxCounts = map[vuln.Severity]int{}
			}
			p.MaxCounts[s] = n
		}
		for i, e := range v.Ignore {
			loc := []string{"vulnerabilities", "ignore", strconv.Itoa(i)}
			ig := Ignore{ID: e.ID, Package: e.Package, Versions: e.Versions, Reason: strings.TrimSpace(e.Reason), Line: lineOf(file, loc)}
			if e.Expires != "" {
				t, err := time.Parse(time.DateOnly, e.Expires)
				if err != nil {
					bad(append(loc, "expires"), "%q is not a date: want YYYY-MM-DD", e.Expires)
				}
				ig.Expires = t
			}
			if e.Versions != "" {
				if _, err := parseConstraints(e.Versions); err != nil {
					bad(append(loc, "versions"), "%v", err)
				}
			}
			p.Ignore = append(p.Ignore, ig)
		}
	}
	p.VEX = doc.VEX
	for i, ref := range doc.VEX {
		if err := checkVEXRef(ref); err != nil {
			bad([]string{"vex", strconv.Itoa(i)}, "%v", err)
		}
	}
	if l := doc.Licenses; l != nil {
		p.Licenses = Licenses{Action: orAction(l.Action, Fail), Deny: l.Deny, Allow: l.Allow}
	}
	if b := doc.BaseImage; b != nil {
		if b.Pinned != nil {
			p.BaseImage.Pinned = orAction(b.Pinned.Action, Fail)
			p.BaseImage.RequireDigest = b.Pinned.Require == "digest"
		}
		if b.Repositories != nil {
			p.BaseImage.Repositories = orAction(b.Repositories.Action, Fail)
			p.BaseImage.AllowedRepos = b.Repositories.Allow
		}
		if b.MaxAge != nil {
			p.BaseImage.MaxAge = orAction(b.MaxAge.Action, Fail)
			if b.MaxAge.Days > 0 {
				p.BaseImage.MaxAgeDays = b.MaxAge.Days
			}
		}
		p.BaseImage.Refresh = orAction(b.Refresh, p.BaseImage.Refresh)
	}
	if d := doc.Dockerfile; d != nil {
		for _, r := range []struct {
			doc *ruleDoc
			to  *Action
		}{{d.MultiStage, &p.Docker.MultiStage}, {d.NoDistroUpgrade, &p.Docker.NoDistroUpgrade}, {d.NonRootUser, &p.Docker.NonRootUser}} {
			if r.doc != nil {
				*r.to = orAction(r.doc.Action, Fail)
			}
		}
	}
	if doc.Scan != nil {
		p.Incomplete = orAction(doc.Scan.Incomplete, Fail)
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return p, nil
}

// orAction is a rule's action: as written, or def when a rule is named
// without one (writing a rule down means enforcing it).
func orAction(a, def Action) Action {
	if a == "" {
		return def
	}
	return a
}
