package registry_test

import (
	"context"
	"fmt"
	"log"

	"github.com/secure-build/secure-build/registry"
)

// Open takes the image sources the sbom and scan commands take.
func ExampleOpen() {
	img, err := registry.Open(context.Background(), registry.OCILayoutPrefix+"./layout:1.0")
	if err != nil {
		log.Fatal(err)
	}
	digest, err := img.Digest()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(digest)
}

// ListTags reads every page of a repository's tags.
func ExampleListTags() {
	tags, err := registry.ListTags(context.Background(), "registry.example.com/library/debian")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(tags)
}
