//! The Challenge step: present (solver Ingress or a rule in the user's Ingress), self-check,
//! accept at the CA, wait for its verdict, clean up through a finalizer whatever happens.

pub mod controller;
