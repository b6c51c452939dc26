package attest

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	provenancetypes "github.com/moby/buildkit/solver/llbsolver/provenance/types"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
)

// The SLSA provenance predicate types BuildKit attaches (--provenance, or
// --attest type=provenance), v0.2 by default, v1 with version=v1.
const (
	ProvenanceV02PredicateType = "https://slsa.dev/provenance/v0.2"
	ProvenanceV1PredicateType  = "https://slsa.dev/provenance/v1"
)

// annotationUncompressed is the diff ID containerd notes on a layer
// descriptor; BuildKit's provenance lists layers with it.
const annotationUncompressed = "containerd.io/uncompressed"

// Provenance is what secure-build reads of BuildKit's provenance: the build
// steps, where in the Dockerfile each comes from, and which layers each
// step's output is made of. BuildKit writes the last two only with
// mode=max; with mode=min Layers is empty.
type Provenance struct {
	Steps  []provenancetypes.BuildStep
	Source *provenancetypes.Source
	// Layers are the layer chains, base first, of each step output
	// ("stepN:OUTPUT").
	Layers map[string][][]ocispecs.Descriptor
}

// DecodeProvenance reads a provenance predicate of either type.
func DecodeProvenance(predicateType string, predicate []byte) (*Provenance, error) {
	var p Provenance
	switch predicateType {
	case ProvenanceV02PredicateType:
		var pred provenancetypes.ProvenancePredicateSLSA02
		if err := json.Unmarshal(predicate, &pred); err != nil {
			return nil, fmt.Errorf("read SLSA v0.2 provenance: %w", err)
		}
		if pred.BuildConfig != nil {
			p.Steps = pred.BuildConfig.Definition
		}
		if pred.Metadata != nil {
			p.Source, p.Layers = pred.Metadata.BuildKitMetadata.Source, pred.Metadata.BuildKitMetadata.Layers
		}
	case ProvenanceV1PredicateType:
		var pred provenancetypes.ProvenancePredicateSLSA1
		if err := json.Unmarshal(predicate, &pred); err != nil {
			return nil, fmt.Errorf("read SLSA v1 provenance: %w", err)
		}
		if c := pred.BuildDefinition.InternalParameters.BuildConfig; c != nil {
			p.Steps = c.Definition
		}
		if m := pred.RunDetails.Metadata; m != nil {
			p.Source, p.Layers = m.BuildKitMetadata.Source, m.BuildKitMetadata.Layers
		}
	default:
		return nil, fmt.Errorf("predicate type %q is not SLSA provenance", predicateType)
	}
	return &p, nil
}

// LayerSource is the build step that made one layer of an image, as its
// provenance tells.
type LayerSource struct {
	Step string
	// Base is set for a layer of the image the build started FROM: the
	// step is the docker-image source, BaseRef and BaseDigest name it.
	Base       bool
	BaseRef    string
	BaseDigest string
	// File, StartLine, EndLine and Instruction locate the step in the
	// Dockerfile (the FROM line for a base layer); zero when the provenance
	// has no source locations.
	File        string
	StartLine   int
	EndLine     int
	Instruction string
}

// LayerSources tells, for each layer of an image (its manifest's layers
// and config's diff IDs, base first), the step that made it: the first
// step whose output is exactly the image's layers up to that one. A step
// that changed nothing has the same layers as the one before it, which
// comes first. Nil entries are layers no step's output ends with; all are
// nil without mode=max.
func (p *Provenance) LayerSources(layers []v1.Descriptor, diffIDs []v1.Hash) []*LayerSource {
	out := make([]*LayerSource, len(layers))
	best := make([]int, len(layers))
	for key, chains := range p.Layers {
		stepID, _, _ := strings.Cut(key, ":")
		n, err := strconv.Atoi(strings.TrimPrefix(stepID, "step"))
		if err != nil || !strings.HasPrefix(stepID, "step") || n < 0 || n >= len(p.Steps) {
			continue
		}
		for _, chain := range chains {
			i := len(chain) - 1
			if i < 0 || i >= len(layers) || !chainMatches(chain, layers, diffIDs) {
				continue
			}
			if out[i] == nil || n < best[i] {
				out[i], best[i] = p.layerSource(n), n
			}
		}
	}
	// The base's layers below its last are made by the same source step.
	for i := len(out) - 1; i > 0; i-- {
		if out[i] != nil && out[i].Base && out[i-1] == nil {
			s := *out[i]
			out[i-1] = &s
		}
	}
	return out
}

// chainMatches says whether chain is the image's first len(chain) layers,
// by digest or, when compressed otherwise, by diff ID.
func chainMatches(chain []ocispecs.Descriptor, layers []v1.Descriptor, diffIDs []v1.Hash) bool {
	for j, d := range chain {
		if d.Digest.String() == layers[j].Digest.String() {
			continue
		}
		if j < len(diffIDs) && d.Annotations[annotationUncompressed] == diffIDs[j].String() {
			continue
		}
		return false
	}
	return true
}

// layerSource describes step n.
func (p *Provenance) layerSource(n int) *LayerSource {
	step := p.Steps[n]
	s := &LayerSource{Step: step.ID}
	if src := step.Op.GetSource(); src != nil {
		if ref, ok := strings.CutPrefix(src.Identifier, "docker-image://"); ok {
			s.Base, s.BaseRef = true, ref
			if name, digest, ok := strings.Cut(ref, "@"); ok {
				s.BaseRef, s.BaseDigest = name, digest
			}
		}
	}
	if p.Source == nil {
		return s
	}
	locs := p.Source.Locations[step.ID].GetLocations()
	if len(locs) == 0 {
		return s
	}
	// Identical ops of several stages are one step with a location each;
	// the first is taken.
	loc := locs[0]
	if int(loc.SourceIndex) >= len(p.Source.Infos) || len(loc.Ranges) == 0 {
		return s
	}
	info := p.Source.Infos[loc.SourceIndex]
	start, end := int(loc.Ranges[0].GetStart().GetLine()), 0
	for _, r := range loc.Ranges {
		start = min(start, int(r.GetStart().GetLine()))
		end = max(end, int(r.GetEnd().GetLine()))
	}
	if start < 1 {
		return s
	}
	s.File, s.StartLine, s.EndLine = info.Filename, start, max(start, end)
	lines := strings.Split(string(info.Data), "\n")
	if s.EndLine <= len(lines) {
		s.Instruction = strings.Join(lines[start-1:s.EndLine], "\n")
	}
	return s
}

// ReadProvenance reads the provenance BuildKit attached to the image
// manifest image in idx, the index a registry or an OCI layout holds the
// image in; nil when it has none. Its attestation manifest must be bound
// to the image, and the statement name it or nothing.
func ReadProvenance(idx v1.ImageIndex, image v1.Hash) (*Provenance, error) {
	index, err := idx.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("read the index: %w", err)
	}
	for _, m := range index.Manifests {
		if m.Annotations[AnnotationReferenceType] != ReferenceTypeAttestation || m.Annotations[AnnotationReferenceDigest] != image.String() {
			continue
		}
		att, err := idx.Image(m.Digest)
		if err != nil {
			return nil, fmt.Errorf("attestation manifest %s: %w", m.Digest, err)
		}
		manifest, err := att.Manifest()
		if err != nil {
			return nil, fmt.Errorf("attestation manifest %s: %w", m.Digest, err)
		}
		for _, l := range manifest.Layers {
			pt := l.Annotations[AnnotationPredicateType]
			if pt != ProvenanceV02PredicateType && pt != ProvenanceV1PredicateType {
				continue
			}
			st, err := readStatement(att, l.Digest)
			if err != nil {
				return nil, fmt.Errorf("attestation %s (%s): %w", l.Digest, pt, err)
			}
			if err := checkSubject(st, pt, image); err != nil {
				return nil, fmt.Errorf("attestation %s: %w", l.Digest, err)
			}
			return DecodeProvenance(pt, st.Predicate)
		}
	}
	return nil, nil
}

// checkSubject checks that a statement of an attestation manifest bound
// to image speaks of it: its subject names image, or it has none.
func checkSubject(st Statement, predicateType string, image v1.Hash) error {
	if st.PredicateType != predicateType {
		return fmt.Errorf("predicate type %q, but its layer is annotated %q", st.PredicateType, predicateType)
	}
	for _, s := range st.Subject {
		if s.Digest["sha256"] == image.Hex {
			return nil
		}
	}
	if len(st.Subject) > 0 {
		return fmt.Errorf("its subject %v is not the image manifest %s", st.Subject, image)
	}
	return nil
}
