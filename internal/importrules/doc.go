// Package importrules holds the test that enforces the import rules of
// DESIGN.md section 2, so that `go test ./...` checks them:
//
//   - packet and topic (and their subpackages) import only the standard library;
//   - client (and its subpackages) never imports broker;
//   - broker never imports config or cmd;
//   - broker never imports admin (admin imports broker);
//   - nothing outside cmd/NAME imports a package under cmd/NAME.
//
// Only production imports are checked (what `go list -deps` reports without
// -test), transitively: a package breaks a rule even when the forbidden
// import comes in through another package. A rule whose packages do not
// exist yet has nothing to check and passes.
package importrules
