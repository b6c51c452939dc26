package plugin

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/secure-build/secure-build/build"

	"github.com/docker/cli/cli/command"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/secure-build/secure-build/attest"
	"github.com/secure-build/secure-build/policy"
	"github.com/secure-build/secure-build/report"
	"github.com/secure-build/secure-build/sbom"
	"github.com/secure-build/secure-build/sign"
	"github.com/secure-build/secure-build/vuln"
	"github.com/spf13/cobra"
)

type inspectOptions struct {
	format     string
	platform   string
	baseAdvice bool
	db         dbFlags
	key        string
}

var inspectFormats = []string{"table", "json", "spdx-json"}

func newInspectCmd(dockerCli command.Cli) *cobra.Command {
	var opts inspectOptions
	cmd := &cobra.Command{
		Use:   "inspect [OPTIONS] IMAGE",
		Short: "Show what a pushed image's attestations say",
		Long: `Read the attestations "docker secure build" attached to IMAGE from its
registry and show, for every platform (or the one --platform names): the
packages of its SBOM by ecosystem, the findings of the build-time scan (the
fixable ones first), the policy verdict and when it was made, and the
findings the policy suppressed, with why. Nothing is matched again: for
today's verdict, use "docker secure verify".

IMAGE is a reference in a registry, REF or registry:REF; its attestations are
bound to each platform's image as "verify" says, so an image exported without
a name, then pushed, is read too.

--format json writes all of it as one JSON document. --format spdx-json
writes the SPDX 2.3 SBOM as attached, for other tools to read; an image with
several platforms needs --platform for it, so that the output is always one
SPDX document.

Credentials come from the Docker config and its credential helpers ("docker
login"). Plain HTTP is tried only for localhost, loopback, *.local and
private (RFC 1918) registry addresses. Exit status: 0 done, 2 an error (no
such image, no attestations, a registry error).`,
		Example: `  # What the build found, per platform
  docker secure inspect registry.example.com/app:1.4

  # The SBOM of one platform, for another SPDX tool
  docker secure inspect --format spdx-json --platform linux/arm64 registry.example.com/app:1.4 > app.spdx.json

  # And whether its base image has been refreshed since, or has a later tag that fixes more
  docker secure inspect --base-advice registry.example.com/app:1.4

  # The build-time verdict of each platform, with jq
  docker secure inspect --format json registry.example.com/app:1.4 | jq '.platforms[] | {platform, pass: .scan.verdict.pass}'`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runInspect(cmd, dockerCli, opts, args[0])
		},
	}
	flags := cmd.Flags()
	flags.StringVar(&opts.format, "format", "table", "Output format: "+strings.Join(inspectFormats, ", "))
	flags.StringVar(&opts.platform, "platform", "", "Show only this platform (os/arch[/variant]); default every platform")
	flags.BoolVar(&opts.baseAdvice, "base-advice", false, "Table format: also advise on each platform's base image, as its manifest names it (refresh, update; see recommend)")
	opts.db.bind(flags)
	flags.StringVar(&opts.key, "key", "", "cosign public key to check the signatures with; without it, signers are shown by their key hint, unchecked")
	return cmd
}

func runInspect(cmd *cobra.Command, dockerCli command.Cli, opts inspectOptions, image string) error {
	if !slices.Contains(inspectFormats, opts.format) {
		return fmt.Errorf("--format %q: want one of %s", opts.format, strings.Join(inspectFormats, ", "))
	}
	if opts.baseAdvice && opts.format != "table" {
		return fmt.Errorf("--base-advice is a part of the table: it cannot be used with --format %s", opts.format)
	}
	want, err := parsePlatform(opts.platform)
	if err != nil {
		return err
	}
	atts, err := attest.Read(cmd.Context(), image, want)
	if err != nil {
		return err
	}
	if !slices.ContainsFunc(atts.Platforms, func(p attest.Platform) bool { return p.SPDX != nil || p.Scan != nil }) {
		return fmt.Errorf("%s has no secure-build attestations: build and push it with 'docker secure build --push'", atts.Ref)
	}
	if opts.format == "spdx-json" {
		return writeInspectSPDX(dockerCli.Out(), atts)
	}
	var verifier *sign.Verifier
	if opts.key != "" {
		if verifier, err = sign.LoadPublicKey(opts.key); err != nil {
			return err
		}
	}
	platforms := make([]inspectPlatform, 0, len(atts.Platforms))
	for _, p := range atts.Platforms {
		ip, err := newInspectPlatform(p)
		if err != nil {
			return err
		}
		found, err := sign.Read(cmd.Context(), p.Image)
		switch {
		case err != nil && verifier != nil:
			return err
		case err != nil:
			// Shown, not fatal: what the attestations say is still worth
			// reading where the registry refuses the referrers listing.
			ip.SignaturesError = err.Error()
		}
		ip.Signatures = nonNil(sign.Signatures(cmd.Context(), p, found, verifier))
		platforms = append(platforms, ip)
	}
	write := writeInspectTable
	if opts.format == "json" {
		write = writeInspectJSON
	}
	if err := build.WriteBuffered(dockerCli.Out(), func(w io.Writer) error { return write(w, atts, platforms) }); err != nil || !opts.baseAdvice {
		return err
	}
	return build.WriteBuffered(dockerCli.Out(), func(w io.Writer) error { return writeInspectAdvice(cmd.Context(), w, atts, opts.db) })
}

// writeInspectSPDX writes the one platform's SPDX document, indented.
func writeInspectSPDX(w io.Writer, atts *attest.Image) error {
	if len(atts.Platforms) > 1 {
		var names []string
		for _, p := range atts.Platforms {
			names = append(names, p.Name)
		}
		return fmt.Errorf("%s has %d platforms (%s): name one with --platform for --format spdx-json", atts.Ref, len(names), strings.Join(names, ", "))
	}
	p := atts.Platforms[0]
	if p.SPDX == nil {
		return fmt.Errorf("%s has no SPDX attestation for %s", atts.Ref, p.Name)
	}
	var out bytes.Buffer
	if err := json.Indent(&out, p.SPDX, "", "  "); err != nil {
		return fmt.Errorf("the SPDX attestation of %s for %s: %w", atts.Ref, p.Name, err)
	}
	out.WriteByte('\n')
	_, err := out.WriteTo(w)
	return err
}

// inspectPlatform is what one platform's attestations say, as inspect shows
// it; the JSON document's shape.
type inspectPlatform struct {
	Platform string       `json:"platform"`
	Image    string       `json:"image"`
	SBOM     *inspectSBOM `json:"sbom"`
	Scan     *inspectScan `json:"scan"`
	// OpenVEX is the OpenVEX document attached, null without one.
	OpenVEX json.RawMessage `json:"openVEX"`
	// Signatures are the signed statements published for the platform's
	// image manifest: cosign's attestation tag and bundle referrers.
	Signatures []sign.Signature `json:"signatures"`
	// SignaturesError says why the signatures could not be read, without
	// --key; "" when they were.
	SignaturesError string `json:"signaturesError,omitempty"`
}

type inspectSBOM struct {
	Distro   *sbom.Distro `json:"distro"`
	Packages int          `json:"packages"`
	// ByType counts the packages by purl type: deb, npm, golang...
	ByType map[string]int `json:"byType"`
}

type inspectScan struct {
	ScannedAt   string           `json:"scannedAt"`
	ToolVersion string           `json:"toolVersion"`
	Verdict     buildVerdictJSON `json:"verdict"`
	// Summary is the findings by severity in one line, as the table says it.
	Summary string `json:"summary"`
	// Findings are in the table's order: fixable first, then by severity.
	Findings   []vuln.Finding          `json:"findings"`
	Suppressed []report.JSONSuppressed `json:"suppressed"`
	Violations []policy.Violation      `json:"violations"`
	Notes      []string                `json:"notes"`
}

func newInspectPlatform(p attest.Platform) (inspectPlatform, error) {
	ip := inspectPlatform{Platform: p.Name, Image: p.Image.String(), OpenVEX: p.OpenVEX}
	if p.SPDX != nil {
		doc, err := p.SBOM()
		if err != nil {
			return ip, err
		}
		ip.SBOM = &inspectSBOM{Distro: doc.Distro, Packages: len(doc.Packages), ByType: map[string]int{}}
		for _, pkg := range doc.Packages {
			ip.SBOM.ByType[pkg.Type]++
		}
	}
	if s := p.Scan; s != nil {
		r := s.Report
		v := s.Predicate.Metadata.Verdict
		findings := s.Findings()
		violations := []policy.Violation{}
		for _, x := range r.Verdict.Violations {
			violations = append(violations, x.Violation())
		}
		ip.Scan = &inspectScan{
			ScannedAt:   s.Predicate.Metadata.ScanFinishedOn.UTC().Format(time.RFC3339),
			ToolVersion: s.Predicate.Scanner.Version,
			Verdict:     buildVerdictJSON{Pass: v.Pass, Threshold: v.Threshold, DecidedOn: v.DecidedOn.UTC().Format(time.RFC3339)},
			Summary:     report.Summary(findings),
			Findings:    fixableFirst(findings),
			Suppressed:  nonNil(r.Verdict.Suppressed),
			Violations:  violations,
			Notes:       nonNil(r.Verdict.Notes),
		}
	}
	return ip, nil
}

// nonNil makes a missing list an empty one, written as [] rather than null.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// fixableFirst orders findings as inspect lists them: those a person can act
// on first, each part in the reports' order.
func fixableFirst(findings []vuln.Finding) []vuln.Finding {
	out := nonNil(vuln.Sorted(findings))
	slices.SortStableFunc(out, func(a, b vuln.Finding) int {
		return cmp.Compare(unfixable(a), unfixable(b))
	})
	return out
}

func unfixable(f vuln.Finding) int {
	if f.Fixable() {
		return 0
	}
	return 1
}

func writeInspectJSON(w io.Writer, atts *attest.Image, platforms []inspectPlatform) error {
	doc := struct {
		Image     string            `json:"image"`
		Digest    string            `json:"digest"`
		Platforms []inspectPlatform `json:"platforms"`
	}{atts.Ref.String(), atts.Digest.String(), platforms}
	return writeJSON(w, doc)
}

// writeInspectTable writes each platform's section. w is build.WriteBuffered's:
// a failed write surfaces when it flushes.
func writeInspectTable(w io.Writer, atts *attest.Image, platforms []inspectPlatform) error {
	// Everything below comes from the image's attestations: whoever pushed
	// it wrote it, so each field is shown escaped (report.Printable).
	pr := report.Printable
	fmt.Fprintf(w, "Image: %s (%s)\n", atts.Ref, atts.Digest)
	for _, p := range platforms {
		fmt.Fprintf(w, "\nPlatform: %s\nManifest: %s\n", pr(p.Platform), pr(p.Image))
		if s := p.SBOM; s != nil {
			var types []string
			for _, t := range slices.Sorted(maps.Keys(s.ByType)) {
				types = append(types, fmt.Sprintf("%s %d", pr(t), s.ByType[t]))
			}
			fmt.Fprintf(w, "Packages: %d", s.Packages)
			if len(types) > 0 {
				fmt.Fprintf(w, " (%s)", strings.Join(types, ", "))
			}
			if s.Distro != nil {
				fmt.Fprintf(w, " on %s", pr(cmp.Or(s.Distro.PrettyName, s.Distro.PURLQualifier())))
			}
			fmt.Fprintln(w)
		} else {
			fmt.Fprintln(w, "Packages: no SBOM attached")
		}
		s := p.Scan
		if s == nil {
			fmt.Fprintln(w, "Scan: no secure-build scan result attached")
			writeSignatures(w, p.Signatures, p.SignaturesError)
			continue
		}
		fmt.Fprintf(w, "Verdict: %s (%s), decided %s; scanned %s by secure-build %s\n",
			passFail(s.Verdict.Pass), pr(s.Verdict.Threshold), s.Verdict.DecidedOn, pr(s.ScannedAt), pr(s.ToolVersion))
		fmt.Fprintf(w, "Findings at build: %s\n", pr(s.Summary))
		if len(s.Findings) > 0 {
			tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
			origins := report.HasOrigins(s.Findings)
			originHeader := ""
			if origins {
				originHeader = "ORIGIN\t"
			}
			fmt.Fprintln(tw, "  ID\tPACKAGE\tINSTALLED -> FIXED\tSEVERITY\t"+originHeader+"SUMMARY")
			for _, f := range s.Findings {
				fmt.Fprintf(tw, "  %s\t%s\t%s -> %s\t%s\t", pr(f.ID), pr(f.Package.Name), pr(f.Package.Version), pr(f.Fix()), pr(f.Severity.String()))
				if origins {
					fmt.Fprintf(tw, "%s\t", pr(report.OriginCell(f)))
				}
				fmt.Fprintf(tw, "%s\n", pr(oneLine(f.Summary, 60)))
			}
			if err := tw.Flush(); err != nil {
				return err
			}
		}
		if len(s.Suppressed) > 0 {
			fmt.Fprintf(w, "Suppressed (%d):\n", len(s.Suppressed))
			for _, x := range s.Suppressed {
				fmt.Fprintf(w, "  %s %s %s: %s %s (%s)\n", pr(x.ID), pr(x.Package), pr(x.Version), pr(x.By), pr(x.Status), pr(x.Source))
				if why := cmp.Or(x.Reason, x.Justification); why != "" {
					fmt.Fprintf(w, "    %s\n", pr(oneLine(why, 200)))
				}
			}
		}
		for _, x := range s.Violations {
			fmt.Fprintf(w, "Rule: %s: %s\n", pr(strings.ToUpper(string(x.Action))), pr(x.String()))
		}
		for _, n := range s.Notes {
			fmt.Fprintf(w, "Note: %s\n", pr(n))
		}
		if p.OpenVEX != nil {
			fmt.Fprintln(w, "OpenVEX: attached (--format json shows it)")
		}
		writeSignatures(w, p.Signatures, p.SignaturesError)
	}
	return nil
}

// writeSignatures says who signed which statement, checked or not.
func writeSignatures(w io.Writer, sigs []sign.Signature, readErr string) {
	if readErr != "" {
		fmt.Fprintf(w, "Signed: unknown, the signatures could not be read: %s\n", report.Printable(readErr))
		return
	}
	if len(sigs) == 0 {
		fmt.Fprintln(w, "Signed: no (docker secure attest --key signs it)")
		return
	}
	for _, s := range sigs {
		checked := "not checked: pass --key"
		if s.Verified {
			checked = "verified"
		}
		fmt.Fprintf(w, "Signed: %s by %s in the %s (%s)\n", report.Printable(s.PredicateType), report.Printable(s.Key), s.From, checked)
	}
}

// oneLine folds white space, newlines included, and cuts s to n runes: an
// advisory summary can span lines, a table row cannot.
func oneLine(s string, n int) string {
	r := []rune(strings.Join(strings.Fields(s), " "))
	if len(r) <= n {
		return string(r)
	}
	return string(r[:n-3]) + "..."
}

// parsePlatform reads --platform: "" is every platform.
func parsePlatform(s string) (*v1.Platform, error) {
	if s == "" {
		return nil, nil
	}
	p, err := v1.ParsePlatform(s)
	if err != nil {
		return nil, fmt.Errorf("--platform %q: %w", s, err)
	}
	return p, nil
}

// writeJSON writes the JSON document of verify or inspect, indented, with
// its text as written ("<", "&" unescaped: it is not for HTML).
func writeJSON(w io.Writer, doc any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(doc); err != nil {
		return fmt.Errorf("write json: %w", err)
	}
	return nil
}
