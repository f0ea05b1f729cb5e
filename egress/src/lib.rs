//! Egress policy for sluice: connector allowlists, virtual-network rules and an
//! SSRF-safe HTTP client (being written).
#![deny(missing_docs)]
