package policy

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestBuildRules(t *testing.T) {
	created := func(days int) *time.Time { c := now.AddDate(0, 0, -days); return &c }
	epoch := time.Unix(0, 0).UTC()
	strict := mustParse(t, `base-image:
  pinned: {action: fail}
  repositories: {allow: [debian, "ghcr.io/acme/*"]}
  max-age: {days: 90}
dockerfile:
  multi-stage: {}
  no-distro-upgrade: {}
  non-root-user: {}
`)
	digestPolicy := mustParse(t, "base-image:\n  pinned: {action: fail, require: digest}\n")
	digest := "@sha256:" + strings.Repeat("b", 64)
	cases := []struct {
		name   string
		p      *Policy
		facts  BuildFacts
		rules  string // the rules broken, in order
		notes  int
		passes bool
	}{
		{"pinned to a version, allowed, fresh, non-root", strict, BuildFacts{Base: BaseImage{Ref: "debian:12", Created: created(10)}, User: "app"}, "", 0, true},
		{"untagged", strict, BuildFacts{Base: BaseImage{Ref: "debian", Created: created(10)}, User: "app"}, "base-image.pinned", 0, false},
		{"latest", strict, BuildFacts{Base: BaseImage{Ref: "debian:latest", Created: created(10)}, User: "app"}, "base-image.pinned", 0, false},
		{"a floating tag", strict, BuildFacts{Base: BaseImage{Ref: "debian:stable", Created: created(10)}, User: "app"}, "base-image.pinned", 0, false},
		{"a codename", strict, BuildFacts{Base: BaseImage{Ref: "debian:bookworm", Created: created(10)}, User: "app"}, "", 0, true},
		{"namespace allowed", strict, BuildFacts{Base: BaseImage{Ref: "ghcr.io/acme/base:2", Created: created(10)}, User: "1000"}, "", 0, true},
		{"repository not allowed", strict, BuildFacts{Base: BaseImage{Ref: "ghcr.io/other/base:2", Created: created(10)}, User: "app"}, "base-image.repositories", 0, false},
		{"too old", strict, BuildFacts{Base: BaseImage{Ref: "debian:12", Created: created(200)}, User: "app"}, "base-image.max-age", 0, false},
		{"reproducible, dated 1970: unknown age, not a failure", strict, BuildFacts{Base: BaseImage{Ref: "debian:12", Created: &epoch}, User: "app"}, "", 1, true},
		{"root by uid", strict, BuildFacts{Base: BaseImage{Ref: "debian:12", Created: created(1)}, User: "0:0"}, "dockerfile.non-root-user", 0, false},
		{"no user", strict, BuildFacts{Base: BaseImage{Ref: "debian:12", Created: created(1)}}, "dockerfile.non-root-user", 0, false},
		{"tools and upgrades", strict, BuildFacts{Base: BaseImage{Ref: "debian:12", Created: created(1)}, User: "app",
			BuildTools: []Line{{Line: 3, What: "gcc"}}, Upgrades: []Line{{Line: 4, What: "apt-get upgrade"}}}, "dockerfile.multi-stage,dockerfile.no-distro-upgrade", 0, false},
		{"toolchain image as the final base", strict, BuildFacts{Base: BaseImage{Ref: "golang:1.26", Created: created(1)}, User: "app"}, "base-image.repositories,dockerfile.multi-stage", 0, false},
		{"scratch: no base rules", strict, BuildFacts{Base: BaseImage{Scratch: true}, User: "65532"}, "", 0, true},
		{"defaults warn", Defaults(), BuildFacts{Base: BaseImage{Ref: "debian"}, Upgrades: []Line{{Line: 2, What: "apt-get upgrade"}}}, "base-image.pinned,dockerfile.no-distro-upgrade,dockerfile.non-root-user", 1, true},
		{"require digest on a tag", digestPolicy, BuildFacts{Base: BaseImage{Ref: "debian:12"}, User: "app"}, "base-image.pinned", 1, false},
		{"require digest, pinned", digestPolicy, BuildFacts{Base: BaseImage{Ref: "debian:12" + digest, Digest: true}, User: "app"}, "", 1, true},
		{"require digest, OCI layout context with a digest", digestPolicy, BuildFacts{Base: BaseImage{Context: "oci-layout://s@sha256:x", Digest: true}, User: "app"}, "", 1, true},
		// A client looks an OCI layout's digest up from the tag the user
		// named: the tag chose the image.
		{"require digest, OCI layout context named by a tag", digestPolicy, BuildFacts{Base: BaseImage{Context: "oci-layout://s:1.0@sha256:x", ContextTag: "1.0", Digest: true}, User: "app"}, "base-image.pinned", 1, false},
		{"OCI layout context tagged latest", strict, BuildFacts{Base: BaseImage{Context: "oci-layout://s:latest@sha256:x", ContextTag: "latest", Digest: true, Created: created(1)}, User: "app"}, "base-image.pinned", 0, false},
		{"defaults warn on an OCI layout context tagged latest", Defaults(), BuildFacts{Base: BaseImage{Context: "oci-layout://s:latest@sha256:x", ContextTag: "latest", Digest: true}, User: "app"}, "base-image.pinned", 1, true},
		{"OCI layout context tagged with a version", strict, BuildFacts{Base: BaseImage{Context: "oci-layout://s:1.0@sha256:x", ContextTag: "1.0", Digest: true, Created: created(1)}, User: "app"}, "", 0, true},
		{"require digest, latest", digestPolicy, BuildFacts{Base: BaseImage{Ref: "debian:latest"}, User: "app"}, "base-image.pinned", 1, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			facts := c.facts
			facts.Dockerfile = "Dockerfile"
			v := c.p.Evaluate(Input{Build: &facts, Now: now})
			var rules []string
			for _, x := range v.Violations {
				rules = append(rules, x.Rule)
			}
			if got := strings.Join(rules, ","); got != c.rules || v.Pass != c.passes || len(v.Notes) != c.notes {
				t.Errorf("rules %q pass %v notes %q; want %q pass %v and %d notes", got, v.Pass, v.Notes, c.rules, c.passes, c.notes)
			}
		})
	}
}

// TestPinnedMessages: the pinning rule says what pins the base in the
// policy's terms: a digest when it requires one.
func TestPinnedMessages(t *testing.T) {
	digestPolicy := mustParse(t, "base-image:\n  pinned: {action: fail, require: digest}\n")
	for _, c := range []struct {
		p     *Policy
		base  BaseImage
		wants string
	}{
		{digestPolicy, BaseImage{Ref: "debian:latest"}, "base image debian:latest is tagged latest, which moves from release to release: pin it by digest (@sha256:...)"},
		{Defaults(), BaseImage{Ref: "debian:latest"}, "pin it to a version tag"},
		{digestPolicy, BaseImage{Name: "base", Context: "oci-layout://s:1.0@sha256:x", ContextTag: "1.0", Digest: true}, "base image base comes from the context oci-layout://s:1.0@sha256:x, which names the layout's image by the tag 1.0, not by digest"},
		{Defaults(), BaseImage{Name: "base", Context: "oci-layout://s:latest@sha256:x", ContextTag: "latest", Digest: true}, "by the tag latest, which moves from release to release: name it by digest (oci-layout://PATH@sha256:...)"},
	} {
		v := c.p.Evaluate(Input{Build: &BuildFacts{Dockerfile: "Dockerfile", User: "app", Base: c.base}, Now: now})
		var msgs []string
		for _, x := range v.Violations {
			msgs = append(msgs, x.Message)
		}
		if got := strings.Join(msgs, "\n"); !strings.Contains(got, c.wants) {
			t.Errorf("%+v: violations\n%s\nwant %q", c.base, got, c.wants)
		}
	}
}

func TestViolationNamesTheLine(t *testing.T) {
	p := mustParse(t, "dockerfile:\n  no-distro-upgrade: {action: fail}\n")
	v := p.Evaluate(Input{Build: &BuildFacts{Dockerfile: "app/Dockerfile", User: "app", Base: BaseImage{Scratch: true},
		Upgrades: []Line{{Line: 7, What: "apk upgrade"}}}, Now: now})
	reasons := strings.Join(v.Reasons(), "\n")
	if v.Pass || !strings.Contains(reasons, "apk upgrade upgrades the whole distribution") || !strings.Contains(reasons, "(app/Dockerfile:7, dockerfile.no-distro-upgrade)") {
		t.Errorf("reasons: %s", reasons)
	}
}

func TestRefreshRule(t *testing.T) {
	for doc, want := range map[string]Action{
		"":                                    Warn,
		"base-image:\n  refresh: fail\n":      Fail,
		"base-image:\n  refresh: off\n":       Off,
		"base-image:\n  max-age: {days: 9}\n": Warn,
	} {
		p, err := Parse("secure-build.yaml", []byte(doc))
		if err != nil {
			t.Fatalf("%q: %v", doc, err)
		}
		if p.BaseImage.Refresh != want {
			t.Errorf("%q: refresh %q, want %q", doc, p.BaseImage.Refresh, want)
		}
	}
	if _, err := Parse("secure-build.yaml", []byte("base-image:\n  refresh: sometimes\n")); err == nil || !strings.Contains(err.Error(), "refresh") {
		t.Errorf("refresh: sometimes: %v, want an error naming the key", err)
	}

	offline := errors.New("cannot reach registry.example.com")
	for _, tc := range []struct {
		action  Action
		gating  int
		err     error
		want    Action // "" for no violation
		message string
	}{
		{Warn, 2, nil, Warn, "advice: the refreshed base fixes 2 gating findings"},
		{Fail, 1, nil, Fail, "fixes 1 gating finding;"},
		{Fail, 0, nil, "", ""},
		{Off, 3, nil, "", ""},
		{Warn, 0, offline, "", ""},
		{Fail, 0, offline, Fail, "could not check for a refreshed base image: cannot reach"},
		{Off, 0, offline, "", ""},
	} {
		p := Defaults()
		p.BaseImage.Refresh = tc.action
		v := p.RefreshViolation(tc.gating, "advice", tc.err)
		switch {
		case tc.want == "" && v != nil:
			t.Errorf("%s, %d gating, %v: %+v, want none", tc.action, tc.gating, tc.err, v)
		case tc.want != "" && (v == nil || v.Action != tc.want || v.Rule != RuleRefresh || !strings.Contains(v.Message, tc.message)):
			t.Errorf("%s, %d gating, %v: %+v, want %s with %q", tc.action, tc.gating, tc.err, v, tc.want, tc.message)
		}
	}
}
