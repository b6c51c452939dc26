package policy

import (
	"bytes"
	"fmt"
	"iter"
	"regexp"
	"strings"
	"time"

	"github.com/distribution/reference"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
)

// BuildFacts are what the practices read: the Dockerfile, the final
// stage's base image and the final image's user.
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
	// Digest says whether it is pinned by digest.
	Digest  bool
	Scratch bool
	// Created is the base image config's creation time, nil when unknown.
	Created *time.Time
	Line    int
}

// DockerfileInput is what a build knows that decides what a Dockerfile's
// FROM lines name.
type DockerfileInput struct {
	// Target is the stage built, "" for the last.
	Target string
	// BuildArgs are the build's --build-arg values; they override the
	// defaults of the ARGs the Dockerfile declares.
	BuildArgs map[string]string
	// PlatformArgs are BuildKit's automatic platform ARGs for the platform
	// built (TARGETPLATFORM, TARGETARCH, BUILDPLATFORM...), which FROM lines
	// may use without declaring them.
	PlatformArgs map[string]string
	// NamedContexts are the build's "context:NAME" options, without the
	// prefix.
	NamedContexts map[string]string
}

// ReadDockerfile reads the facts the practices need from a Dockerfile:
// which stage is final, what its base image is once ARGs and named contexts
// are applied, and which RUN lines install build tools or upgrade the
// distribution. User and Created come from the solved image configs, which
// the caller has.
func ReadDockerfile(name string, src []byte, in DockerfileInput) (*BuildFacts, error) {
	res, err := parser.Parse(bytes.NewReader(src))
	if err != nil {
		return nil, fmt.Errorf("read Dockerfile %s: %w", name, err)
	}
	stages, metaArgs, err := instructions.Parse(res.AST, nil)
	if err != nil {
		return nil, fmt.Errorf("read Dockerfile %s: %w", name, err)
	}
	if len(stages) == 0 {
		return nil, fmt.Errorf("read Dockerfile %s: no FROM", name)
	}
	facts := &BuildFacts{Dockerfile: name}
	final := len(stages) - 1
	if in.Target != "" {
		final = stageIndex(stages, in.Target, len(stages))
		if final < 0 {
			return nil, fmt.Errorf("read Dockerfile %s: no stage named %q", name, in.Target)
		}
	}
	facts.FinalLine = line(stages[final].Location)

	lex := shell.NewLex(res.EscapeToken)
	env, err := metaEnv(lex, metaArgs, in.BuildArgs, in.PlatformArgs)
	if err != nil {
		return nil, fmt.Errorf("read Dockerfile %s: %w", name, err)
	}
	// Follow the final stage through the stages it is FROM.
	for i := final; ; {
		facts.BuildTools = append(facts.BuildTools, buildToolLines(stages[i].Commands)...)
		baseName, _, err := lex.ProcessWord(stages[i].BaseName, env)
		if err != nil {
			return nil, fmt.Errorf("read Dockerfile %s:%d: FROM %s: %w", name, line(stages[i].Location), stages[i].BaseName, err)
		}
		if j := stageIndex(stages, baseName, i); j >= 0 {
			i = j
			continue
		}
		facts.Base = resolveBase(baseName, in.NamedContexts)
		facts.Base.Line = line(stages[i].Location)
		break
	}
	for _, st := range stages {
		facts.Upgrades = append(facts.Upgrades, upgradeLines(st.Commands)...)
	}
	return facts, nil
}

// stageIndex is the index of the stage named name among the first n, -1
// when none is.
func stageIndex(stages []instructions.Stage, name string, n int) int {
	for i := n - 1; i >= 0; i-- {
		if stages[i].Name != "" && strings.EqualFold(stages[i].Name, name) {
			return i
		}
	}
	return -1
}

// metaEnv is what the FROM lines see: the automatic platform ARGs, then
// each ARG declared before the first FROM, in order, its build arg or its
// default expanded with the ARGs before it.
func metaEnv(lex *shell.Lex, metaArgs []instructions.ArgCommand, buildArgs, platformArgs map[string]string) (shell.EnvGetter, error) {
	var kv []string
	for k, v := range platformArgs {
		kv = append(kv, k+"="+v)
	}
	for _, a := range metaArgs {
		for _, arg := range a.Args {
			if v, ok := buildArgs[arg.Key]; ok {
				kv = append(kv, arg.Key+"="+v)
				continue
			}
			if arg.Value == nil {
				continue
			}
			v, _, err := lex.ProcessWord(*arg.Value, shell.EnvsFromSlice(kv))
			if err != nil {
				return nil, fmt.Errorf("ARG %s=%s: %w", arg.Key, *arg.Value, err)
			}
			kv = append(kv, arg.Key+"="+v)
		}
	}
	return shell.EnvsFromSlice(kv), nil
}

func line(loc []parser.Range) int {
	if len(loc) == 0 {
		return 0
	}
	return loc[0].Start.Line
}

// resolveBase says what a FROM name is once named contexts apply: a
// context "docker-image://REF" is REF, an "oci-layout://...@sha256:..." one
// is pinned by its digest, and others are not registry images.
func resolveBase(name string, namedContexts map[string]string) BaseImage {
	b := BaseImage{Name: name}
	if name == "scratch" {
		b.Scratch = true
		return b
	}
	ctx, ok := namedContexts[name]
	if !ok {
		if named, err := reference.ParseNormalizedNamed(name); err == nil {
			ctx, ok = namedContexts[reference.TagNameOnly(named).String()]
		}
	}
	ref := name
	if ok {
		b.Context = ctx
		scheme, rest, _ := strings.Cut(ctx, "://")
		switch scheme {
		case "docker-image":
			ref = rest
		case "oci-layout":
			b.Digest = strings.Contains(rest, "@sha256:")
			return b
		default:
			return b
		}
	}
	b.Ref = ref
	if named, err := reference.ParseNormalizedNamed(ref); err == nil {
		_, b.Digest = named.(reference.Canonical)
	}
	return b
}

// buildTool matches the package names of compilers and build tools, in
// Debian, Alpine and Red Hat spellings.
var buildTool = regexp.MustCompile(`^(gcc|g\+\+|gcc-c\+\+|clang|cpp|make|cmake|ninja-build|build-essential|build-base|autoconf|automake|libtool|gfortran|golang|golang-go|go|rustc|cargo|rust|maven|gradle|default-jdk|musl-dev|libc6-dev|glibc-devel)([-.]?[0-9][0-9.]*)?$|^openjdk-?[0-9]+-jdk(-headless)?$|^java-[0-9.]+-openjdk-devel$`)

func buildToolLines(cmds []instructions.Command) []Line {
	var out []Line
	for l, inv := range packageCalls(cmds) {
		if inv.verb != "install" && inv.verb != "add" {
			continue
		}
		var tools []string
		for _, pkg := range inv.args {
			pkg, _, _ = strings.Cut(pkg, "=") // apt's pkg=version
			if buildTool.MatchString(pkg) {
				tools = append(tools, pkg)
			}
		}
		if len(tools) > 0 {
			out = append(out, Line{Line: l, What: strings.Join(tools, ", ")})
		}
	}
	return out
}

func upgradeLines(cmds []instructions.Command) []Line {
	var out []Line
	for l, inv := range packageCalls(cmds) {
		if inv.upgradesAll() {
			out = append(out, Line{Line: l, What: inv.manager + " " + inv.verb})
		}
	}
	return out
}

// packageCalls yields the package manager calls of the RUN instructions,
// heredoc bodies included, each with its line.
func packageCalls(cmds []instructions.Command) iter.Seq2[int, packageCommand] {
	return func(yield func(int, packageCommand) bool) {
		for _, cmd := range cmds {
			run, ok := cmd.(*instructions.RunCommand)
			if !ok {
				continue
			}
			scripts := []string{strings.Join(run.CmdLine, " ")}
			for _, f := range run.Files {
				scripts = append(scripts, f.Data)
			}
			for _, script := range scripts {
				for _, inv := range packageCommands(script) {
					if !yield(line(run.Location()), inv) {
						return
					}
				}
			}
		}
	}
}

// packageCommand is one package manager call in a RUN line.
type packageCommand struct {
	manager, verb string
	// args are the words after the verb that are not options.
	args []string
}

var packageManagers = map[string]bool{"apt-get": true, "apt": true, "aptitude": true, "apk": true, "dnf": true, "microdnf": true, "yum": true, "zypper": true, "tdnf": true}

var shellSeparator = regexp.MustCompile(`&&|\|\||;|\||\n`)

// commandPrefixes run the command that follows them.
var commandPrefixes = map[string]bool{"sudo": true, "command": true, "exec": true, "env": true, "nice": true, "time": true, "then": true, "do": true, "else": true}

// valueOptions are the package managers' options whose value is the next
// word: apt's -o KEY=VALUE and -t RELEASE, apk's --virtual NAME, a root or
// config folder.
var valueOptions = map[string]bool{"-o": true, "--option": true, "-t": true, "--target-release": true, "-c": true, "--config": true,
	"--virtual": true, "-X": true, "--repository": true, "-p": true, "--root": true, "--installroot": true, "--releasever": true}

// packageCommands finds the package manager calls in a shell script, split
// at &&, ||, ; and |, where a manager is the command (after variable
// assignments and sudo or the like), not a word of another command's
// arguments. It reads words, not shell: enough for the forms Dockerfiles
// use.
func packageCommands(script string) []packageCommand {
	var out []packageCommand
	for _, part := range shellSeparator.Split(strings.ReplaceAll(script, "\\\n", " "), -1) {
		words := strings.Fields(part)
		for len(words) > 0 && (commandPrefixes[words[0]] || strings.HasPrefix(words[0], "-") || isAssignment(words[0])) {
			words = words[1:]
		}
		if len(words) == 0 {
			continue
		}
		manager := words[0][strings.LastIndex(words[0], "/")+1:]
		if !packageManagers[manager] {
			continue
		}
		pc := packageCommand{manager: manager}
		for i := 1; i < len(words); i++ {
			a := words[i]
			switch {
			case valueOptions[a]:
				i++ // its value
			case strings.HasPrefix(a, "-"):
			case pc.verb == "":
				pc.verb = a
			default:
				pc.args = append(pc.args, a)
			}
		}
		if pc.verb != "" {
			out = append(out, pc)
		}
	}
	return out
}

// isAssignment says whether a word is a shell variable assignment.
var isAssignment = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*=`).MatchString

// upgradesAll says whether the call upgrades every installed package.
func (pc packageCommand) upgradesAll() bool {
	switch pc.manager {
	case "apt-get", "apt", "aptitude":
		return pc.verb == "upgrade" || pc.verb == "dist-upgrade" || pc.verb == "full-upgrade" || pc.verb == "safe-upgrade"
	case "apk":
		return pc.verb == "upgrade" && len(pc.args) == 0
	case "dnf", "microdnf", "yum", "tdnf":
		return (pc.verb == "upgrade" || pc.verb == "update" || pc.verb == "distro-sync") && len(pc.args) == 0
	case "zypper":
		return ((pc.verb == "update" || pc.verb == "up") && len(pc.args) == 0) || pc.verb == "dist-upgrade" || pc.verb == "dup"
	}
	return false
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
			// An OCI layout or local context: there is no tag to judge.
			if p.BaseImage.RequireDigest && !base.Digest {
				at("base-image.pinned", p.BaseImage.Pinned, base.Line, "base image %s comes from the context %s, which is not pinned by digest", base.Name, base.Context)
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
	case floatingTags[strings.ToLower(tagged.Tag())]:
		return fmt.Sprintf("is tagged %s, which moves from release to release: pin it to a version tag", tagged.Tag())
	case p.BaseImage.RequireDigest:
		return "is pinned to a tag but not by digest: add @sha256:..."
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
