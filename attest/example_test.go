package attest_test

import (
	"context"
	"fmt"
	"log"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/secure-build/secure-build/attest"
)

// Read gives each platform's attestations: here one platform's build-time
// verdict and its SBOM's packages.
func ExampleRead() {
	img, err := attest.Read(context.Background(), "registry.example.com/app:1.4", &v1.Platform{OS: "linux", Architecture: "arm64"})
	if err != nil {
		log.Fatal(err)
	}
	for _, p := range img.Platforms {
		if p.Scan != nil {
			fmt.Println(p.Name, "passed at build:", p.Scan.Predicate.Metadata.Verdict.Pass)
		}
		if p.SPDX != nil {
			doc, err := p.SBOM()
			if err != nil {
				log.Fatal(err)
			}
			fmt.Println(p.Name, len(doc.Packages), "packages")
		}
	}
}
