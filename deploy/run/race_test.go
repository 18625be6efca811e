//go:build race

package main_test

// raceBuild makes the end-to-end test build the stack with -race when the test itself
// runs under it: the binaries then share the build cache with the tests (a cold CI
// compiles each package once, not twice) and the stack's processes are race-checked too.
const raceBuild = true
