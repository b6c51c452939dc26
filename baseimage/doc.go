// Package baseimage gives base-image advice: whether the tag a build's
// base was pulled by now points to a refreshed image, which later tags of
// the same flavor could replace it (patch, minor, major), and which other
// flavors the repository has, each with what it fixes of the base's
// findings. It asks the registry (registry/) for tags and manifests, scans
// candidates through scan/ and keeps the scans in the user cache, so a
// second run scans nothing.
package baseimage
