// Package archtest holds the project-wide tests of how the code is put
// together: every package and exported name has a doc comment, and each
// package depends only on what its layer may (the engine on no transport
// or storage, the API on no security implementation, and so on). It has
// no code of its own.
package archtest
