//go:build !unix

package sbom

const openNoFollow = 0
