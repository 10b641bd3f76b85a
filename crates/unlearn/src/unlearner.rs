//! The [`Unlearner`] trait and what goes in and out of a run.

use burn::prelude::*;
use doppel_data::Dataset;
use doppel_data::lineage::SampleInfo;
use doppel_models::train::{Recipe, TrainSeeds};
use doppel_models::{ModelSpec, Net};

use crate::error::Result;
use crate::scope::Scope;

/// The model to unlearn from, with what made it (retraining reuses its recipe and seeds).
#[derive(Debug, Clone, Copy)]
pub struct Original<'a> {
    /// The network, on a plain (non-autodiff) device.
    pub net: &'a Net,
    /// Its architecture and input normalisation.
    pub spec: &'a ModelSpec,
    /// The recipe it was trained with.
    pub recipe: &'a Recipe,
    /// The seeds it was trained with.
    pub seeds: TrainSeeds,
}

/// The training split with its lineage.
#[derive(Debug, Clone, Copy)]
pub struct View<'a> {
    /// The training images and labels.
    pub data: &'a Dataset,
    /// One lineage entry per row of `data`.
    pub samples: &'a [SampleInfo],
}

/// Where and with which seed a method runs.
#[derive(Debug, Clone)]
pub struct RunContext {
    /// A plain device; methods add autodiff themselves.
    pub device: Device,
    /// The master seed of the run. Every random choice (batch order, random labels) draws from a stream
    /// derived from it with `doppel_data::seed`.
    pub seed: u64,
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Status {
    /// Every planned step ran with a finite loss.
    Completed,
    /// The loss turned non-finite; the run stopped there and returned the last finite weights.
    Diverged {
        /// The step (1-based) whose loss was not finite.
        step: usize,
        /// The loss, as text (`NaN`, `inf`), since JSON has no non-finite numbers.
        loss: String,
    },
}

/// What one unlearning run did.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct UnlearnReport {
    /// The method's name (`ft`, `salun`, …).
    pub method: String,
    /// The scope's name (`exact`, `lineage`, `mined`).
    pub scope: String,
    /// Rows unlearned (the forget side).
    pub scope_size: usize,
    /// Rows of the retain side (the rest of the training split).
    pub retain_size: usize,
    /// Optimiser steps taken (importance passes and mask estimation are not steps).
    pub steps: usize,
    /// Wall seconds of the whole run.
    pub wall_seconds: f64,
    /// How it ended.
    pub status: Status,
    /// The master seed of the run.
    pub seed: u64,
    /// The checked settings used, as the method's config serialises them.
    pub settings: serde_json::Value,
}

/// An unlearned network, its spec (retraining recomputes the input normalisation) and the report.
#[derive(Debug)]
pub struct Unlearned {
    /// The network, on the plain device.
    pub net: Net,
    /// Its spec.
    pub spec: ModelSpec,
    /// What the run did.
    pub report: UnlearnReport,
}

/// One unlearning method with checked settings.
pub trait Unlearner {
    /// The method's name as configs, reports and the command line write it.
    fn name(&self) -> &'static str;

    /// The settings the method runs with, for the report.
    fn settings(&self) -> serde_json::Value;

    /// Unlearns the rows of `scope` from `original`. `on_batch` sees the rows of every batch the method uses,
    /// forget side and retain side alike, before it is used — tests use it to prove what a method touched.
    fn unlearn(
        &self,
        original: &Original<'_>,
        view: &View<'_>,
        scope: &Scope,
        ctx: &RunContext,
        on_batch: &mut dyn FnMut(&[usize]),
    ) -> Result<Unlearned>;
}
