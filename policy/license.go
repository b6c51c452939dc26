package policy

import (
	"fmt"
	"slices"
	"strings"

	"github.com/github/go-spdx/v2/spdxexp"

	"github.com/secure-build/secure-build/sbom"
)

// licenseViolations applies the deny and allow lists to each package's
// license expressions. An expression is met when some choice of its OR
// branches uses no denied license (deny), or only allowed ones (allow).
// A package with no license data breaks neither list: unknown is not
// denied, and the SBOM says it is unknown.
func (p *Policy) licenseViolations(pkgs []sbom.Package) []Violation {
	l := p.Licenses
	if l.Action == Off || (len(l.Deny) == 0 && len(l.Allow) == 0) {
		return nil
	}
	var out []Violation
	for _, pkg := range pkgs {
		for _, expr := range pkg.Licenses {
			if msg := l.judge(expr); msg != "" {
				out = append(out, Violation{
					Rule:    "licenses",
					Action:  l.Action,
					Message: fmt.Sprintf("%s %s (%s): license %s %s", pkg.Name, pkg.Version, pkg.Type, expr, msg),
				})
				break
			}
		}
	}
	return out
}

// judge says what is wrong with one expression, "" when nothing is.
func (l Licenses) judge(expr string) string {
	ids, err := spdxexp.ExtractLicenses(expr)
	if err != nil {
		// Not an SPDX expression (a free-text license): it can be judged
		// only by its exact text.
		if containsFold(l.Deny, expr) {
			return "is denied"
		}
		if len(l.Allow) > 0 && !containsFold(l.Allow, expr) {
			return "is not an SPDX expression of allowed licenses"
		}
		return ""
	}
	if len(l.Deny) > 0 {
		var usable []string
		for _, id := range ids {
			if !containsFold(l.Deny, id) {
				usable = append(usable, id)
			}
		}
		if len(usable) < len(ids) {
			if ok, err := spdxexp.Satisfies(expr, usable); err != nil || !ok {
				return "needs a denied license (" + strings.Join(deniedOf(ids, l.Deny), ", ") + ")"
			}
		}
	}
	if len(l.Allow) > 0 {
		if ok, err := spdxexp.Satisfies(expr, l.Allow); err != nil || !ok {
			return "is not met by the allowed licenses"
		}
	}
	return ""
}

func deniedOf(ids, deny []string) []string {
	var out []string
	for _, id := range ids {
		if containsFold(deny, id) {
			out = append(out, id)
		}
	}
	return out
}

func containsFold(list []string, s string) bool {
	return slices.ContainsFunc(list, func(x string) bool { return strings.EqualFold(x, s) })
}
