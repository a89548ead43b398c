//! Tests of the software device.
