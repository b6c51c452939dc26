package frontend

// ScannerPath is where the frontend image holds its binary (see the
// Dockerfile): the gateway frontend and, run from the image, the scan step.
const ScannerPath = "/bin/secure-build-frontend"
