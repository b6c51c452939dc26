package plugin

import (
	"context"
	"fmt"
	"io"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/secure-build/secure-build/attest"
	"github.com/secure-build/secure-build/baseimage"
	"github.com/secure-build/secure-build/policy"
	"github.com/secure-build/secure-build/registry"
	"github.com/secure-build/secure-build/report"
	"github.com/secure-build/secure-build/vuln"
)

// writeInspectAdvice writes, for each platform of a pushed image, one line
// of advice on the base image its manifest names (the annotations
// org.opencontainers.image.base.name and .digest a build sets): is the tag
// refreshed since, which later tag fixes the most, of the findings the
// scan attestation attributes to the base (else of the base scanned whole,
// as "recommend" scans it). A platform that cannot be advised on says
// why in its line; nothing here fails the command.
func writeInspectAdvice(ctx context.Context, w io.Writer, atts *attest.Image, db dbFlags) error {
	vdb, err := db.open()
	if err != nil {
		return err
	}
	defer vdb.Close()
	cache, err := baseimage.DefaultCache()
	if err != nil {
		return err
	}
	fmt.Fprintln(w)
	for _, p := range atts.Platforms {
		fmt.Fprintf(w, "%s: %s\n", p.Name, report.Printable(inspectAdviceLine(ctx, p, vdb, cache)))
	}
	return nil
}

func inspectAdviceLine(ctx context.Context, p attest.Platform, vdb *vuln.DB, cache *baseimage.Cache) string {
	platform, err := v1.ParsePlatform(p.Name)
	if err != nil {
		return "base advice unavailable: " + err.Error()
	}
	img, err := registry.ResolvePlatform(ctx, p.Image, *platform)
	if err != nil {
		return "base advice unavailable: " + firstLine(err.Error())
	}
	base, digest := img.Annotations[ocispecs.AnnotationBaseImageName], img.Annotations[ocispecs.AnnotationBaseImageDigest]
	if base == "" {
		return "no base image named in the manifest (" + ocispecs.AnnotationBaseImageName + "): built FROM scratch, or not by docker secure build"
	}
	// The build's findings of base origin, when its scan attestation has
	// them; else the base is scanned whole.
	var findings []vuln.Finding
	if p.Scan != nil {
		_, findings = buildBase(p.Scan.Findings())
	}
	advice, err := baseimage.Recommend(ctx, baseimage.Request{
		Image:          base,
		Platform:       *platform,
		BaseDigest:     digest,
		BaseFindings:   findings,
		Gates:          policy.Default.Gates,
		PerBucket:      1,
		Updates:        true,
		Scanner:        baseimage.DBScanner{DB: vdb},
		Cache:          cache,
		Database:       baseimage.DatabaseVersion(vdb),
		ScannerVersion: scannerVersion(),
	})
	if err != nil {
		return "base advice unavailable: " + firstLine(err.Error())
	}
	if line := baseimage.Line(advice); line != "" {
		return line
	}
	return fmt.Sprintf("base %s: no refresh, and no later tag of its flavor fixes any of its findings", base)
}
