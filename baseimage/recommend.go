package baseimage

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/secure-build/secure-build/registry"
	"github.com/secure-build/secure-build/scan"
	"github.com/secure-build/secure-build/vuln"
)

// Scanner scans one image of a registry, named by digest
// ("HOST/team/app@sha256:...").
type Scanner interface {
	Scan(ctx context.Context, pinned string) (*ScanResult, error)
}

// DBScanner scans as "docker secure scan registry:REF" does: the image's
// layers cataloged, its packages matched against DB.
type DBScanner struct{ DB *vuln.DB }

// Scan catalogs and matches the image pinned names.
func (s DBScanner) Scan(ctx context.Context, pinned string) (*ScanResult, error) {
	doc, err := scan.Catalog(ctx, registry.RegistryPrefix+pinned)
	if err != nil {
		return nil, err
	}
	m, err := scan.Match(s.DB, doc)
	if err != nil {
		return nil, err
	}
	r := &ScanResult{Findings: m.Findings}
	if d := doc.Distro; d != nil && d.ID != "" {
		r.Distro = strings.TrimSpace(d.ID + " " + d.VersionID)
	}
	for _, gap := range m.Incomplete {
		r.Incomplete = append(r.Incomplete, gap.String())
	}
	return r, nil
}

// Request is what advice is asked about.
type Request struct {
	// Image is the base as the FROM line names it, "HOST/app:1.0", or
	// pinned, "HOST/app:1.0@sha256:...".
	Image string
	// Platform is the build's platform.
	Platform v1.Platform
	// BaseDigest is the digest the build used (the platform's manifest
	// or the index), when known; else the pinned digest of Image, if any.
	// Refresh compares it with what the tag names now.
	BaseDigest string
	// BaseFindings are the build's findings of base origin; nil has the
	// base image scanned whole instead (then all its findings are the
	// base's).
	BaseFindings []vuln.Finding
	// Gates says which findings the policy fails on.
	Gates func(vuln.Finding) bool
	// PerBucket is how many candidates of each bucket are scanned (0: 3).
	PerBucket int
	// Updates asks for the later tags of the same flavor; Alternatives
	// for the other flavors of the repository.
	Updates, Alternatives bool
	Scanner               Scanner
	// Cache keeps scans and tag lists; nil keeps nothing.
	Cache *Cache
	// Database and ScannerVersion name the data and the code a scan
	// depends on: the cache key of a scan.
	Database, ScannerVersion string
	// Progress, when set, is told each step that takes a while.
	Progress func(string)
	// Now is the time the tag-list cache is judged by; zero is now.
	Now time.Time
	// Session, when set, shares resolutions, tag lists and scans with the
	// other calls of the same session.
	Session *Session
}

// Image is one image advice talks about, for the build's platform.
type Image struct {
	Tag string `json:"tag,omitempty"`
	// Aliases are the other tags that name the same image.
	Aliases []string  `json:"aliases,omitempty"`
	Digest  string    `json:"digest"`
	Index   string    `json:"index,omitempty"`
	Created time.Time `json:"created,omitzero"`
	Size    int64     `json:"size"`
	Distro  string    `json:"distro,omitempty"`
}

// Refreshed is the bucket of the image a tag now points to.
const Refreshed Bucket = "refresh"

// Alternative is the bucket of another flavor.
const Alternative Bucket = "alternative"

// Option is an image that could replace the base, with what it fixes.
type Option struct {
	Image
	Bucket Bucket `json:"bucket"`
	// Fixed are the base's findings it does not have, Introduced its own
	// that the base does not have, Remaining all of its own.
	Fixed      Counts `json:"fixed"`
	Introduced Counts `json:"introduced"`
	Remaining  Counts `json:"remaining"`
	// SizeDelta is its size less the base's, in bytes.
	SizeDelta int64 `json:"sizeDelta"`
	// FamilyChange, for an alternative, says the distribution changes
	// ("debian 12 -> alpine 3.20"): packages, paths and tools differ.
	FamilyChange string   `json:"familyChange,omitempty"`
	Incomplete   []string `json:"incomplete,omitempty"`
}

// Advice is what Recommend found.
type Advice struct {
	// Repository and Tag are the base's, as asked; Platform the build's.
	Repository string `json:"repository"`
	Tag        string `json:"tag"`
	Platform   string `json:"platform"`
	// Base is the image the build used (or the tag names now).
	Base Image `json:"base"`
	// BaseFindings counts the base's findings.
	BaseFindings Counts `json:"baseFindings"`
	// Refresh is the image the tag points to now, when it is not the base.
	Refresh *Option `json:"refresh,omitempty"`
	// Updates are the scanned candidates: patch, minor, major (or newer),
	// each bucket ranked by gating findings fixed, then all fixed, then
	// size.
	Updates      []Option `json:"updates"`
	Alternatives []Option `json:"alternatives,omitempty"`
	// Notes say what was left out and why: candidates not scanned, tags
	// without the platform, damaged cache entries.
	Notes []string `json:"notes,omitempty"`
	Scans struct {
		Scanned int `json:"scanned"`
		Cached  int `json:"cached"`
	} `json:"scans"`
}

// Best is the update that fixes the most (by the ranking), nil when none
// fixes anything.
func (a *Advice) Best() *Option {
	var best *Option
	for i := range a.Updates {
		o := &a.Updates[i]
		if o.Fixed.All == 0 {
			continue
		}
		if best == nil || rank(*o, *best) < 0 {
			best = o
		}
	}
	return best
}

// rank orders options: most gating findings fixed, then most fixed, then
// smallest.
func rank(a, b Option) int {
	return cmp.Or(
		cmp.Compare(b.Fixed.Gating, a.Fixed.Gating),
		cmp.Compare(b.Fixed.All, a.Fixed.All),
		cmp.Compare(a.Size, b.Size),
	)
}

// DefaultPerBucket is how many candidates of each bucket are scanned: nine
// scans at most for patch, minor and major.
const DefaultPerBucket = 3

// Recommend gives the advice req asks for. A registry that cannot be read
// is an error: the caller says so in one line and goes on.
func Recommend(ctx context.Context, req Request) (*Advice, error) {
	r := &recommender{req: req}
	if r.req.PerBucket <= 0 {
		r.req.PerBucket = DefaultPerBucket
	}
	if r.req.Now.IsZero() {
		r.req.Now = time.Now()
	}
	return r.run(ctx)
}

type recommender struct {
	req    Request
	repo   name.Repository
	advice Advice
}

func (r *recommender) progress(format string, args ...any) {
	if r.req.Progress != nil {
		r.req.Progress(fmt.Sprintf(format, args...))
	}
}

func (r *recommender) run(ctx context.Context) (*Advice, error) {
	ref, pinned, _ := strings.Cut(r.req.Image, "@")
	tag, err := name.NewTag(ref)
	if err != nil {
		return nil, fmt.Errorf("base image %q: %w", r.req.Image, err)
	}
	r.repo = tag.Context()
	a := &r.advice
	a.Repository, a.Tag, a.Platform = r.repo.String(), tag.TagStr(), r.req.Platform.String()

	now, err := r.resolve(ctx, tag)
	if err != nil {
		return nil, err
	}
	baseDigest := cmp.Or(r.req.BaseDigest, pinned)
	base := now
	if baseDigest != "" && !now.Names(baseDigest) {
		d, err := name.NewDigest(r.repo.String() + "@" + baseDigest)
		if err != nil {
			return nil, fmt.Errorf("base image digest %q: %w", baseDigest, err)
		}
		if base, err = r.resolve(ctx, d); err != nil {
			return nil, err
		}
		if base.Digest == now.Digest {
			// An index that changed for other platforms only: this
			// platform's image is the same.
			base = now
		}
	}
	a.Base = imageOf(a.Tag, base)

	baseFindings := r.req.BaseFindings
	if baseFindings == nil {
		res, err := r.scan(ctx, base, a.Tag)
		if err != nil {
			return nil, err
		}
		baseFindings, a.Base.Distro = res.Findings, res.Distro
	}
	a.BaseFindings = countMissing(baseFindings, nil, r.req.Gates)

	if base != now {
		o, err := r.option(ctx, now, a.Tag, Refreshed, baseFindings)
		if err != nil {
			return nil, err
		}
		a.Refresh = o
	}
	if !r.req.Updates && !r.req.Alternatives {
		return a, nil
	}
	tags, err := r.tags(ctx)
	if err != nil {
		return nil, err
	}
	seen := map[string]string{}
	if r.req.Updates {
		if cur := ParseTag(a.Tag); cur.Kind == Commit || cur.Kind == Other {
			a.Notes = append(a.Notes, fmt.Sprintf("%s is not a version: no later tag is known to replace it; only a refresh of it is checked", a.Tag))
		}
		sel := Select(a.Tag, tags)
		for _, b := range buckets {
			var inBucket []string
			for _, c := range sel.Candidates {
				if c.Bucket == b {
					inBucket = append(inBucket, c.Tag)
				}
			}
			opts, err := r.options(ctx, inBucket, b, baseFindings, now, seen)
			if err != nil {
				return nil, err
			}
			slices.SortStableFunc(opts, rank)
			a.Updates = append(a.Updates, opts...)
		}
	}
	if r.req.Alternatives {
		opts, err := r.options(ctx, Flavors(a.Tag, tags), Alternative, baseFindings, now, seen)
		if err != nil {
			return nil, err
		}
		for i := range opts {
			if from, to := family(a.Base.Distro), family(opts[i].Distro); from != to {
				opts[i].FamilyChange = cmp.Or(a.Base.Distro, "none") + " -> " + cmp.Or(opts[i].Distro, "none")
			}
		}
		slices.SortStableFunc(opts, rank)
		a.Alternatives = opts
	}
	return a, nil
}

// family is a distro's id: "debian" of "debian 12".
func family(distro string) string {
	id, _, _ := strings.Cut(distro, " ")
	return id
}

// options resolves and scans candidate tags, in order, until PerBucket
// distinct images (not the current one, not one already offered) are
// found. A tag whose image is one found in this bucket is its alias; seen
// are the images of other buckets, by digest.
func (r *recommender) options(ctx context.Context, tags []string, bucket Bucket, baseFindings []vuln.Finding, now *registry.PlatformImage, seen map[string]string) ([]Option, error) {
	var found []*registry.PlatformImage
	var names [][]string
	for i, tag := range tags {
		if len(found) == r.req.PerBucket {
			r.advice.Notes = append(r.advice.Notes, fmt.Sprintf("%s: %d more candidates not scanned (%s)", bucket, len(tags)-i, strings.Join(tags[i:], ", ")))
			break
		}
		img, err := r.resolve(ctx, r.repo.Tag(tag))
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			r.advice.Notes = append(r.advice.Notes, fmt.Sprintf("%s: left out: %v", tag, err))
			continue
		}
		if now.Names(img.Digest) {
			r.advice.Base.Aliases = append(r.advice.Base.Aliases, tag)
			continue
		}
		if other, ok := seen[img.Digest]; ok {
			r.advice.Notes = append(r.advice.Notes, fmt.Sprintf("%s: the same image as %s", tag, other))
			continue
		}
		j := slices.IndexFunc(found, func(f *registry.PlatformImage) bool { return f.Digest == img.Digest })
		if j >= 0 {
			names[j] = append(names[j], tag)
			continue
		}
		found = append(found, img)
		names = append(names, []string{tag})
	}
	var out []Option
	for i, img := range found {
		o, err := r.option(ctx, img, names[i][0], bucket, baseFindings)
		if err != nil {
			return nil, err
		}
		o.Aliases = names[i][1:]
		out = append(out, *o)
	}
	for _, o := range out {
		seen[o.Digest] = o.Tag
	}
	return out, nil
}

// option scans img and compares it with the base.
func (r *recommender) option(ctx context.Context, img *registry.PlatformImage, tag string, bucket Bucket, baseFindings []vuln.Finding) (*Option, error) {
	res, err := r.scan(ctx, img, tag)
	if err != nil {
		return nil, err
	}
	o := &Option{Image: imageOf(tag, img), Bucket: bucket, Incomplete: res.Incomplete}
	o.Distro = res.Distro
	o.Fixed, o.Introduced, o.Remaining = Compare(baseFindings, res.Findings, r.req.Gates)
	o.SizeDelta = img.Size - r.advice.Base.Size
	return o, nil
}

// resolve resolves ref for the build's platform, once a session.
func (r *recommender) resolve(ctx context.Context, ref name.Reference) (*registry.PlatformImage, error) {
	img, _, err := sessionDo(ctx, r.req.Session, "resolve\x00"+ref.String()+"\x00"+r.req.Platform.String(),
		func(ctx context.Context) (*registry.PlatformImage, error) {
			return registry.ResolvePlatform(ctx, ref, r.req.Platform)
		})
	return img, err
}

// scanned is a scan as advice took it, with what it noted on the way.
type scanned struct {
	res       *ScanResult
	fromCache bool
	notes     []string
}

// scan scans img, or takes its scan from the cache (or another call of the
// session).
func (r *recommender) scan(ctx context.Context, img *registry.PlatformImage, tag string) (*ScanResult, error) {
	key := "scan\x00" + scanKey(img.Digest, r.req.Database, r.req.ScannerVersion)
	s, shared, err := sessionDo(ctx, r.req.Session, key, func(ctx context.Context) (scanned, error) {
		return r.scanOnce(ctx, img, tag)
	})
	r.advice.Notes = append(r.advice.Notes, s.notes...)
	if err != nil {
		return nil, err
	}
	if s.fromCache || shared {
		r.advice.Scans.Cached++
	} else {
		r.advice.Scans.Scanned++
	}
	return s.res, nil
}

func (r *recommender) scanOnce(ctx context.Context, img *registry.PlatformImage, tag string) (scanned, error) {
	var out scanned
	c := r.req.Cache
	if c != nil {
		res, err := c.Scan(img.Digest, r.req.Database, r.req.ScannerVersion)
		if err != nil {
			out.notes = append(out.notes, err.Error())
		}
		if res != nil {
			out.res, out.fromCache = res, true
			return out, nil
		}
	}
	r.progress("scanning %s:%s (%s)", r.repo, tag, shortDigest(img.Digest))
	res, err := r.req.Scanner.Scan(ctx, img.Pinned())
	if err != nil {
		return out, fmt.Errorf("scan %s:%s: %w", r.repo, tag, err)
	}
	out.res = res
	if c != nil {
		if err := c.PutScan(img.Digest, r.req.Database, r.req.ScannerVersion, res); err != nil {
			out.notes = append(out.notes, err.Error())
		}
	}
	return out, nil
}

// listed is a repository's tag list, with what was noted on the way.
type listed struct {
	tags  []string
	notes []string
}

// tags lists the repository's tags, from the cache when listed lately (or
// from another call of the session).
func (r *recommender) tags(ctx context.Context) ([]string, error) {
	repo := r.repo.String()
	l, _, err := sessionDo(ctx, r.req.Session, "tags\x00"+repo, func(ctx context.Context) (listed, error) {
		var out listed
		if c := r.req.Cache; c != nil {
			tags, err := c.Tags(repo, r.req.Now)
			if err != nil {
				out.notes = append(out.notes, err.Error())
			}
			if tags != nil {
				out.tags = tags
				return out, nil
			}
		}
		r.progress("listing the tags of %s", repo)
		tags, err := registry.ListTags(ctx, repo)
		if err != nil {
			return out, err
		}
		out.tags = tags
		if c := r.req.Cache; c != nil {
			if err := c.PutTags(repo, tags); err != nil {
				out.notes = append(out.notes, err.Error())
			}
		}
		return out, nil
	})
	r.advice.Notes = append(r.advice.Notes, l.notes...)
	return l.tags, err
}

func imageOf(tag string, img *registry.PlatformImage) Image {
	return Image{Tag: tag, Digest: img.Digest, Index: img.Index, Created: img.Created, Size: img.Size}
}

// shortDigest is "sha256:" and 12 hex digits: enough to tell images apart
// in a table.
func shortDigest(d string) string {
	if len(d) > len("sha256:")+12 {
		return d[:len("sha256:")+12]
	}
	return d
}
