package policy

import (
	"fmt"
	"strings"
	"time"

	"github.com/distribution/reference"
)

// BuildFacts are what the practices read: the Dockerfile, the final
// stage's base image and the final image's user. Plain data: package
// dockerfile reads it from a Dockerfile, the build adds the solved configs.
type BuildFacts struct {
	// Dockerfile names the file, for locations.
	Dockerfile string
	Base       BaseImage
	// User is the final image's user, inherited from the base included.
	User string
	// BuildTools are the RUN lines of the final stage (and the stages it
	// is FROM) that install compilers or build tools.
	BuildTools []Line
	// Upgrades are the RUN lines, in any stage, that upgrade the whole
	// distribution.
	Upgrades []Line
	// FinalLine is the line of the final stage's FROM.
	FinalLine int
}

// Line is a Dockerfile line and what was found on it.
type Line struct {
	Line int
	What string
}

// BaseImage is the final stage's base, followed through the stages it is
// FROM and through named contexts.
type BaseImage struct {
	// Name is the FROM name, its ARGs expanded.
	Name string
	// Ref is the image reference it resolves to; "" when it is not a
	// registry image (scratch, a local or OCI layout context).
	Ref string
	// Context is the named context that serves it, as given, when one does.
	Context string
	// ContextTag is the tag an oci-layout context names its image by
	// ("oci-layout://STORE:TAG@DIGEST"); the client looked the digest up
	// from it, so the image is chosen by the tag, not pinned by the digest.
	ContextTag string
	// Digest says whether it is pinned by digest.
	Digest  bool
	Scratch bool
	// Created is the base image config's creation time, nil when unknown.
	Created *time.Time
	Line    int
}

// sdkImages are base images that are toolchains: a final stage on one
// ships the compiler.
var sdkImages = map[string]bool{"golang": true, "rust": true, "gcc": true, "maven": true, "gradle": true, "buildpack-deps": true}

// buildViolations applies the base-image and Dockerfile practices.
func (p *Policy) buildViolations(b *BuildFacts, now time.Time) ([]Violation, []string) {
	var out []Violation
	var notes []string
	at := func(rule string, action Action, l int, format string, args ...any) {
		if action == Off {
			return
		}
		out = append(out, Violation{Rule: rule, Action: action, Message: fmt.Sprintf(format, args...), File: b.Dockerfile, Line: l})
	}
	base := b.Base
	if !base.Scratch {
		switch {
		case base.Ref == "" && base.Context != "":
			if msg := p.contextPinProblem(base); msg != "" {
				at("base-image.pinned", p.BaseImage.Pinned, base.Line, "base image %s comes from the context %s, %s", base.Name, base.Context, msg)
			}
		default:
			if msg := p.pinProblem(base.Ref); msg != "" {
				at("base-image.pinned", p.BaseImage.Pinned, base.Line, "base image %s %s", base.Ref, msg)
			}
			if len(p.BaseImage.AllowedRepos) > 0 && !repoAllowed(base.Ref, p.BaseImage.AllowedRepos) {
				at("base-image.repositories", p.BaseImage.Repositories, base.Line, "base image %s is not from an allowed repository (%s)", base.Ref, strings.Join(p.BaseImage.AllowedRepos, ", "))
			}
		}
		switch {
		case base.Created == nil || base.Created.Year() <= 1970:
			if p.BaseImage.MaxAge != Off {
				notes = append(notes, fmt.Sprintf("base image %s has no creation time (or 1970, as reproducible builds set): its age is unknown", base.Name))
			}
		default:
			days := int(now.Sub(*base.Created).Hours() / 24)
			if days > p.BaseImage.MaxAgeDays {
				at("base-image.max-age", p.BaseImage.MaxAge, base.Line, "base image %s was created %d days ago (more than %d): rebuild on a newer one", base.Name, days, p.BaseImage.MaxAgeDays)
			}
		}
		if named, err := reference.ParseNormalizedNamed(base.Ref); err == nil && sdkImages[reference.Path(named)[strings.LastIndex(reference.Path(named), "/")+1:]] {
			at("dockerfile.multi-stage", p.Docker.MultiStage, base.Line, "the final stage is built on the toolchain image %s: build in an earlier stage and copy the result into a smaller base", base.Ref)
		}
	}
	for _, l := range b.BuildTools {
		at("dockerfile.multi-stage", p.Docker.MultiStage, l.Line, "the final stage installs build tools (%s): install them in a build stage and copy only the result", l.What)
	}
	for _, l := range b.Upgrades {
		at("dockerfile.no-distro-upgrade", p.Docker.NoDistroUpgrade, l.Line, "%s upgrades the whole distribution: take the fixes from a newer base image instead", l.What)
	}
	if isRoot(b.User) {
		who := "root (no USER)"
		if b.User != "" {
			who = "USER " + b.User
		}
		at("dockerfile.non-root-user", p.Docker.NonRootUser, b.FinalLine, "the final stage runs as %s: set a non-root USER", who)
	}
	return out, notes
}

// floatingTags name no version: the image they point to changes release.
var floatingTags = map[string]bool{"latest": true, "stable": true, "lts": true, "current": true, "edge": true, "rolling": true,
	"mainline": true, "testing": true, "unstable": true, "sid": true, "nightly": true, "dev": true, "devel": true, "main": true, "master": true}

// pinProblem says how ref fails the pinning rule, "" when it does not.
func (p *Policy) pinProblem(ref string) string {
	named, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return fmt.Sprintf("is not an image reference: %v", err)
	}
	if _, ok := named.(reference.Canonical); ok {
		return ""
	}
	tagged, ok := named.(reference.Tagged)
	switch {
	case !ok:
		return "is untagged (which means latest): pin it to a version tag"
	case floatingTags[strings.ToLower(tagged.Tag())] && p.BaseImage.RequireDigest:
		return fmt.Sprintf("is tagged %s, which moves from release to release: pin it by digest (@sha256:...)", tagged.Tag())
	case floatingTags[strings.ToLower(tagged.Tag())]:
		return fmt.Sprintf("is tagged %s, which moves from release to release: pin it to a version tag", tagged.Tag())
	case p.BaseImage.RequireDigest:
		return "is pinned to a tag but not by digest: add @sha256:..."
	}
	return ""
}

// contextPinProblem says how a base served by an OCI layout or local
// context fails the pinning rule, "" when it does not. A client (buildx,
// docker secure build) sends an OCI layout's image with the digest BuildKit
// needs, looked up from the tag the user named when the user named no
// digest: a tag in the context means the image was chosen by it.
func (p *Policy) contextPinProblem(base BaseImage) string {
	switch tag := base.ContextTag; {
	case tag != "" && floatingTags[strings.ToLower(tag)]:
		return fmt.Sprintf("which names the layout's image by the tag %s, which moves from release to release: name it by digest (oci-layout://PATH@sha256:...)", tag)
	case !p.BaseImage.RequireDigest:
		return ""
	case !base.Digest:
		return "which is not pinned by digest"
	case tag != "":
		return fmt.Sprintf("which names the layout's image by the tag %s, not by digest: name it oci-layout://PATH@sha256:...", tag)
	}
	return ""
}

// repoAllowed says whether ref's repository is one of the allowed ones; an
// entry ending in /* allows everything under it.
func repoAllowed(ref string, allowed []string) bool {
	named, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return false
	}
	repo := named.Name()
	for _, a := range allowed {
		prefix, wildcard := strings.CutSuffix(a, "/*")
		if n, err := reference.ParseNormalizedNamed(prefix); err == nil {
			prefix = n.Name()
		} else if wildcard {
			// A bare registry host or namespace such as "ghcr.io".
			prefix = strings.TrimSuffix(prefix, "/")
		}
		if (wildcard && strings.HasPrefix(repo, prefix+"/")) || (!wildcard && repo == prefix) {
			return true
		}
	}
	return false
}

func isRoot(user string) bool {
	u, _, _ := strings.Cut(user, ":")
	return u == "" || u == "root" || u == "0"
}

// RuleRefresh is the key of the base-image refresh rule.
const RuleRefresh = "base-image.refresh"

// RefreshViolation judges a build against its base image's tag as the
// registry serves it now: gatingFixed are the build's gating findings the
// refreshed image fixes, advice the one line that says so; checkErr, when
// the registry could not be asked. A failed check breaks the rule only when
// it fails (a gate that could not look fails closed); else it is a line
// for the reader, not a violation. Nil when nothing is broken.
func (p *Policy) RefreshViolation(gatingFixed int, advice string, checkErr error) *Violation {
	action := p.BaseImage.Refresh
	switch {
	case action == Off || action == "":
		return nil
	case checkErr != nil && action == Fail:
		return &Violation{Rule: RuleRefresh, Action: Fail, Message: fmt.Sprintf("could not check for a refreshed base image: %v", checkErr)}
	case checkErr != nil || gatingFixed == 0:
		return nil
	}
	return &Violation{Rule: RuleRefresh, Action: action, Message: fmt.Sprintf("%s: the refreshed base fixes %s; rebuild with --pull (the build is stale, not the code)",
		advice, plural(gatingFixed, "gating finding", "gating findings"))}
}
