package frontend

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/secure-build/secure-build/attest"
	"github.com/secure-build/secure-build/sbom"
	"github.com/secure-build/secure-build/scanstep"
	spdxjson "github.com/spdx/tools-golang/json"
)

// Environment of BuildKit's SBOM generator protocol
// (docs/attestations/sbom-protocol.md in BuildKit).
const (
	EnvScanSource      = "BUILDKIT_SCAN_SOURCE"
	EnvScanExtras      = "BUILDKIT_SCAN_SOURCE_EXTRAS"
	EnvScanDestination = "BUILDKIT_SCAN_DESTINATION"
)

// RunGenerator serves BuildKit's SBOM generator protocol
// (--sbom=generator=IMAGE): it catalogs the root at BUILDKIT_SCAN_SOURCE and
// each extra under BUILDKIT_SCAN_SOURCE_EXTRAS, and writes one in-toto
// statement a root into BUILDKIT_SCAN_DESTINATION. The protocol mounts no
// database, so it yields SBOMs only; BuildKit fills in the subjects.
func RunGenerator(ctx context.Context, toolVersion string) error {
	source, dest := os.Getenv(EnvScanSource), os.Getenv(EnvScanDestination)
	if source == "" || dest == "" {
		return fmt.Errorf("SBOM generator: %s and %s must both be set", EnvScanSource, EnvScanDestination)
	}
	created, err := sbom.CreatedTime()
	if err != nil {
		return err
	}
	opts := sbom.EncodeOptions{Created: created, ToolVersion: toolVersion}
	if err := generate(ctx, source, "final stage", filepath.Join(dest, scanstep.SBOMFile), opts); err != nil {
		return err
	}
	stages, err := scanstep.ExtraStages(os.Getenv(EnvScanExtras))
	if err != nil {
		return fmt.Errorf("SBOM generator: %w", err)
	}
	for _, st := range stages {
		if err := generate(ctx, st.Root, st.Name, filepath.Join(dest, st.File), opts); err != nil {
			return err
		}
	}
	return nil
}

func generate(ctx context.Context, root, name, out string, opts sbom.EncodeOptions) error {
	doc, err := sbom.Catalog(ctx, root, name)
	if err != nil {
		return fmt.Errorf("SBOM generator: %w", err)
	}
	var predicate bytes.Buffer
	if err := spdxjson.Write(doc.SPDX(opts), &predicate); err != nil {
		return fmt.Errorf("SBOM generator: encode %s: %w", name, err)
	}
	stmt := attest.NewStatement(attest.SPDXPredicateType, predicate.Bytes())
	b, err := json.Marshal(stmt)
	if err != nil {
		return fmt.Errorf("SBOM generator: encode %s: %w", name, err)
	}
	return scanstep.WriteFile(out, b)
}
