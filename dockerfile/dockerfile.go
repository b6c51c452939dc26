// Package dockerfile reads what the policy's practices judge from a
// Dockerfile: the final stage, its base image once build args, platform args
// and named contexts apply, and the RUN lines that install build tools or
// upgrade the distribution. It uses BuildKit's own parser, so it reads a
// Dockerfile as the build does.
package dockerfile

import (
	"bytes"
	"fmt"
	"iter"
	"regexp"
	"strings"

	"github.com/distribution/reference"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerfile/shell"

	"github.com/secure-build/secure-build/policy"
)

// Input is what a build knows that decides what a Dockerfile's FROM lines
// name.
type Input struct {
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

// Read reads the facts the practices need from a Dockerfile:
// which stage is final, what its base image is once ARGs and named contexts
// are applied, and which RUN lines install build tools or upgrade the
// distribution. User and Created come from the solved image configs, which
// the caller has.
func Read(name string, src []byte, in Input) (*policy.BuildFacts, error) {
	d, err := parse(name, src, in)
	if err != nil {
		return nil, err
	}
	facts := &policy.BuildFacts{Dockerfile: name, FinalLine: line(d.stages[d.chain[0]].Location)}
	for _, i := range d.chain {
		facts.BuildTools = append(facts.BuildTools, buildToolLines(d.stages[i].Commands)...)
	}
	facts.Base = resolveBase(d.baseName, in.NamedContexts)
	facts.Base.Line = line(d.stages[d.chain[len(d.chain)-1]].Location)
	for _, st := range d.stages {
		facts.Upgrades = append(facts.Upgrades, upgradeLines(st.Commands)...)
	}
	return facts, nil
}

// parsed is a Dockerfile read as the build reads it.
type parsed struct {
	stages []instructions.Stage
	// chain is the final stage's index, then the stage it is FROM, and so
	// on down to the stage FROM an image (or scratch, or a context).
	chain []int
	// baseName is what the last stage of the chain is FROM, ARGs expanded.
	baseName string
}

func parse(name string, src []byte, in Input) (*parsed, error) {
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
	final := len(stages) - 1
	if in.Target != "" {
		final = stageIndex(stages, in.Target, len(stages))
		if final < 0 {
			return nil, fmt.Errorf("read Dockerfile %s: no stage named %q", name, in.Target)
		}
	}
	lex := shell.NewLex(res.EscapeToken)
	env, err := metaEnv(lex, metaArgs, in.BuildArgs, in.PlatformArgs)
	if err != nil {
		return nil, fmt.Errorf("read Dockerfile %s: %w", name, err)
	}
	d := &parsed{stages: stages}
	// Follow the final stage through the stages it is FROM.
	for i := final; ; {
		d.chain = append(d.chain, i)
		baseName, _, err := lex.ProcessWord(stages[i].BaseName, env)
		if err != nil {
			return nil, fmt.Errorf("read Dockerfile %s:%d: FROM %s: %w", name, line(stages[i].Location), stages[i].BaseName, err)
		}
		if j := stageIndex(stages, baseName, i); j >= 0 {
			i = j
			continue
		}
		d.baseName = baseName
		return d, nil
	}
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
// context "docker-image://REF" is REF, an "oci-layout://STORE[:TAG]@DIGEST"
// one is the layout's image, named by tag or by digest, and others are not
// registry images.
func resolveBase(name string, namedContexts map[string]string) policy.BaseImage {
	b := policy.BaseImage{Name: name}
	if name == "scratch" {
		b.Scratch = true
		return b
	}
	ctx, ok := namedContext(name, namedContexts)
	ref := name
	if ok {
		b.Context = ctx
		scheme, rest, _ := strings.Cut(ctx, "://")
		switch scheme {
		case "docker-image":
			ref = rest
		case "oci-layout":
			store, digest, _ := strings.Cut(rest, "@")
			b.Digest = strings.HasPrefix(digest, "sha256:")
			if i := strings.LastIndex(store, ":"); i >= 0 {
				b.ContextTag = store[i+1:]
			}
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

// namedContext finds the context that serves a FROM name as BuildKit looks
// it up (dockerui's NamedContext): by the name as written, else by its
// familiar form without ":latest", so that "FROM debian:latest" and "FROM
// docker.io/library/debian" are served by a context named "debian".
func namedContext(name string, namedContexts map[string]string) (string, bool) {
	if ctx, ok := namedContexts[name]; ok {
		return ctx, true
	}
	named, err := reference.ParseNormalizedNamed(name)
	if err != nil {
		return "", false
	}
	ctx, ok := namedContexts[strings.TrimSuffix(reference.FamiliarString(named), ":latest")]
	return ctx, ok
}

// buildTool matches the package names of compilers and build tools, in
// Debian, Alpine and Red Hat spellings.
var buildTool = regexp.MustCompile(`^(gcc|g\+\+|gcc-c\+\+|clang|cpp|make|cmake|ninja-build|build-essential|build-base|autoconf|automake|libtool|gfortran|golang|golang-go|go|rustc|cargo|rust|maven|gradle|default-jdk|musl-dev|libc6-dev|glibc-devel)([-.]?[0-9][0-9.]*)?$|^openjdk-?[0-9]+-jdk(-headless)?$|^java-[0-9.]+-openjdk-devel$`)

func buildToolLines(cmds []instructions.Command) []policy.Line {
	var out []policy.Line
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
			out = append(out, policy.Line{Line: l, What: strings.Join(tools, ", ")})
		}
	}
	return out
}

func upgradeLines(cmds []instructions.Command) []policy.Line {
	var out []policy.Line
	for l, inv := range packageCalls(cmds) {
		if inv.upgradesAll() {
			out = append(out, policy.Line{Line: l, What: inv.manager + " " + inv.verb})
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
