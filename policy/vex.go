package policy

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/distribution/reference"
	"github.com/openvex/go-vex/pkg/vex"
	"github.com/package-url/packageurl-go"

	"github.com/secure-build/secure-build/vuln"
)

// vexDocument is an OpenVEX document the policy names, as read.
type vexDocument struct {
	name string
	doc  *vex.VEX
}

// AddVEX adds an OpenVEX document the file names; name is how messages
// and suppressions name it.
func (p *Policy) AddVEX(name string, data []byte) error {
	doc, err := vex.Parse(data)
	if err != nil {
		return fmt.Errorf("VEX document %s: %w", name, err)
	}
	if !strings.HasPrefix(doc.Context, "https://openvex.dev/ns") {
		return fmt.Errorf("VEX document %s: not OpenVEX (@context %q, want https://openvex.dev/ns/...)", name, doc.Context)
	}
	for i, st := range doc.Statements {
		if err := st.Validate(); err != nil {
			return fmt.Errorf("VEX document %s: statement %d: %w", name, i+1, err)
		}
	}
	p.vex = append(p.vex, vexDocument{name: name, doc: doc})
	return nil
}

// vexSuppress finds the latest VEX statement about f's vulnerability (any
// of its ids) and package, and suppresses f when that statement says
// not_affected or fixed. A statement is about the package when its product
// is the package's purl, or when its product is the image evaluated (one
// of image, its identities) and it names the package as a subcomponent or
// names no subcomponents (then it speaks of the whole image).
func (p *Policy) vexSuppress(f vuln.Finding, image []string) (Suppressed, bool) {
	var best *vex.Statement
	var bestTime time.Time
	var bestDoc string
	for _, d := range p.vex {
		var docTime time.Time
		if d.doc.Timestamp != nil {
			docTime = *d.doc.Timestamp
		}
		for i := range d.doc.Statements {
			st := &d.doc.Statements[i]
			if !statementNames(st, f, image) {
				continue
			}
			t := docTime
			if st.Timestamp != nil {
				t = *st.Timestamp
			}
			if best == nil || !t.Before(bestTime) {
				best, bestTime, bestDoc = st, t, d.name
			}
		}
	}
	if best == nil || (best.Status != vex.StatusNotAffected && best.Status != vex.StatusFixed) {
		return Suppressed{}, false
	}
	reason := best.ImpactStatement
	if reason == "" {
		reason = best.StatusNotes
	}
	return Suppressed{
		Finding:       f,
		By:            "vex",
		Status:        string(best.Status),
		Justification: string(best.Justification),
		Reason:        reason,
		Source:        bestDoc,
	}, true
}

func statementNames(st *vex.Statement, f vuln.Finding, image []string) bool {
	if !slices.ContainsFunc(f.IDs(), st.Vulnerability.Matches) || f.Package.PURL == "" {
		return false
	}
	for i := range st.Products {
		prod := &st.Products[i]
		if prod.Component.Matches(f.Package.PURL) {
			return true
		}
		if !slices.ContainsFunc(image, prod.Component.Matches) {
			continue
		}
		if len(prod.Subcomponents) == 0 {
			return true
		}
		for j := range prod.Subcomponents {
			if prod.Subcomponents[j].Matches(f.Package.PURL) {
				return true
			}
		}
	}
	return false
}

// ImageIdentities are the names a VEX product may give an image: each
// reference as given, its repository, and its purl
// (pkg:oci/NAME[@DIGEST]?repository_url=REPO[&tag=TAG]), as OpenVEX and
// the VEX tools of Docker and Trivy spell images.
func ImageIdentities(refs ...string) []string {
	var out []string
	for _, ref := range refs {
		named, err := reference.ParseNormalizedNamed(ref)
		if err != nil {
			continue
		}
		out = append(out, ref, named.Name(), reference.FamiliarName(named))
		var qualifiers packageurl.Qualifiers
		qualifiers = append(qualifiers, packageurl.Qualifier{Key: "repository_url", Value: named.Name()})
		if t, ok := named.(reference.Tagged); ok {
			qualifiers = append(qualifiers, packageurl.Qualifier{Key: "tag", Value: t.Tag()})
		}
		version := ""
		if d, ok := named.(reference.Digested); ok {
			version = d.Digest().String()
		}
		path := reference.Path(named)
		out = append(out, packageurl.NewPackageURL("oci", "", path[strings.LastIndex(path, "/")+1:], version, qualifiers, "").ToString())
	}
	return slices.Compact(out)
}

// NotAffected are a verdict's suppressions that say the image is not
// affected: what OpenVEX attests.
func NotAffected(v Verdict) []Suppressed {
	var out []Suppressed
	for _, s := range v.Suppressed {
		if s.Status == string(vex.StatusNotAffected) {
			out = append(out, s)
		}
	}
	return out
}
