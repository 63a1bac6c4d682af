//! Root package: owns the examples and the end-to-end tests.
