//! The one error type of doppel-eval.

/// Results of this crate.
pub type Result<T, E = EvalError> = std::result::Result<T, E>;

/// Everything that can be wrong with the input of a metric.
///
/// Messages are lowercase, name the argument (and row, column or index) at fault and say what to do. No metric
/// panics on user input: every check below is made before any arithmetic.
#[derive(Debug, Clone, thiserror::Error)]
pub enum EvalError {
    /// An input holds no values (an empty split, an empty forget set, no models).
    #[error("{what} is empty; pass at least one {unit} (is the split empty?)")]
    Empty {
        /// The argument at fault (`logits`, `member losses`, ...).
        what: &'static str,
        /// What one element of it is (`row`, `score`, `model`, ...).
        unit: &'static str,
    },
    /// Two inputs that must have one entry per sample have different lengths.
    #[error("{left} has {left_len} entries but {right} has {right_len}; pass one entry per sample to both")]
    LengthMismatch {
        /// The first argument.
        left: &'static str,
        /// Its length.
        left_len: usize,
        /// The second argument.
        right: &'static str,
        /// Its length.
        right_len: usize,
    },
    /// A matrix input (logits, probabilities) holds NaN or an infinity.
    #[error(
        "{what} row {row} holds {value} (column {column}); metrics need finite values, check the model for divergence"
    )]
    NonFiniteRow {
        /// The argument at fault.
        what: &'static str,
        /// Zero-based row (sample) index.
        row: usize,
        /// Zero-based column (class) index.
        column: usize,
        /// The offending value.
        value: f64,
    },
    /// A vector input (scores, losses, pixels) holds NaN or an infinity.
    #[error("{what}[{index}] is {value}; metrics need finite values")]
    NonFinite {
        /// The argument at fault.
        what: &'static str,
        /// Zero-based index of the value.
        index: usize,
        /// The offending value.
        value: f64,
    },
    /// A flat row-major matrix does not hold a whole number of rows.
    #[error(
        "{what} holds {len} values, which is not a multiple of {num_classes} classes; pass rows of `num_classes` values"
    )]
    Ragged {
        /// The argument at fault.
        what: &'static str,
        /// Number of values passed.
        len: usize,
        /// The row length that was declared.
        num_classes: usize,
    },
    /// A classifier output with fewer than two classes.
    #[error("{what} declare {num_classes} classes; a classifier needs at least 2")]
    TooFewClasses {
        /// The argument at fault.
        what: &'static str,
        /// The number of classes declared.
        num_classes: usize,
    },
    /// A label is not a class of the logits it is paired with.
    #[error("labels[{row}] is {label}, out of range for {num_classes} classes; labels must be in 0..{num_classes}")]
    LabelOutOfRange {
        /// Zero-based row (sample) index.
        row: usize,
        /// The label found.
        label: usize,
        /// The number of classes of the logits.
        num_classes: usize,
    },
    /// A row of probabilities is negative somewhere or does not sum to one.
    #[error(
        "{what} row {row} is not a probability distribution (sum {sum}, min {min}); pass softmax outputs or use the logits form"
    )]
    NotADistribution {
        /// The argument at fault.
        what: &'static str,
        /// Zero-based row index.
        row: usize,
        /// The row's sum.
        sum: f64,
        /// The row's smallest entry.
        min: f64,
    },
    /// A parameter of a metric is outside its valid range.
    #[error("`{name}` is {value}; it must be {expected}")]
    InvalidParameter {
        /// The parameter.
        name: &'static str,
        /// The value passed, printed.
        value: String,
        /// The valid range, in words.
        expected: String,
    },
    /// Two inputs that must have the same shape do not.
    #[error("{what}: {detail}")]
    ShapeMismatch {
        /// The argument at fault.
        what: &'static str,
        /// The two shapes, in words.
        detail: String,
    },
    /// The named metrics of a model and of its oracle do not match one to one.
    #[error("metric `{name}` {problem}; pass the same metric names for the model and the oracle, each once")]
    MetricNames {
        /// The metric name at fault.
        name: String,
        /// What is wrong with it.
        problem: &'static str,
    },
    /// A metric of a model set failed on one model's outputs.
    #[error("model `{model}`: {source}")]
    InModel {
        /// The model's name.
        model: String,
        /// What is wrong with its outputs.
        source: Box<EvalError>,
    },
}
