//! A table of typed cells, written as CSV and as its Parquet twin from the same rows.
//!
//! Every table of the report is built in memory as a [`Table`]: named columns and rows of [`Cell`]s. A number
//! cell keeps the text the CSV shows (fixed decimals, or Rust's shortest round-trip form) and the value that text
//! stands for, so the CSV, the Parquet twin and the figures drawn from the table all see the same numbers. The
//! Parquet column type follows the cells: `i64` when every present cell is an integer, `f64` when every one is a
//! number, text otherwise; an empty cell is null (a column without any value is a null `f64`).

use polars::prelude::{Column, DataFrame, ParquetWriter};

use crate::error::{ReportError, Result};

/// One cell.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// No value (an empty CSV cell, a Parquet null).
    Empty,
    /// An integer.
    Int(i64),
    /// A number with the text that shows it.
    Num {
        /// The value the text stands for (the rounded value when the text rounds).
        value: f64,
        /// The CSV text.
        text: String,
    },
    /// Text.
    Text(String),
}

impl Cell {
    /// `v` with `decimals` fixed decimals; the value is the rounded one. `None` is empty.
    pub fn fixed(v: Option<f64>, decimals: usize) -> Cell {
        match v {
            None => Cell::Empty,
            Some(v) => {
                let text = format!("{v:.decimals$}");
                Cell::Num { value: text.parse().unwrap_or(v), text }
            }
        }
    }

    /// `v` in Rust's shortest round-trip form (`NaN` for a NaN).
    pub fn shortest(v: f64) -> Cell {
        Cell::Num { value: v, text: v.to_string() }
    }

    /// A count.
    pub fn count(n: impl TryInto<i64>) -> Cell {
        n.try_into().map_or(Cell::Empty, Cell::Int)
    }

    /// Text.
    pub fn text(s: impl Into<String>) -> Cell {
        Cell::Text(s.into())
    }

    /// The CSV text of the cell.
    pub fn csv(&self) -> String {
        match self {
            Cell::Empty => String::new(),
            Cell::Int(i) => i.to_string(),
            Cell::Num { text, .. } => text.clone(),
            Cell::Text(s) => s.clone(),
        }
    }

    /// The cell as a finite number, if it is one.
    pub fn number(&self) -> Option<f64> {
        match self {
            Cell::Int(i) => Some(*i as f64),
            Cell::Num { value, .. } => Some(*value),
            _ => None,
        }
        .filter(|v| v.is_finite())
    }

    /// The cell's text when it is text (`""` otherwise).
    pub fn as_str(&self) -> &str {
        match self {
            Cell::Text(s) => s,
            _ => "",
        }
    }
}

/// A named table: `<name>.csv` and `<name>.parquet` under `tables/`.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// The file stem: `evaluation`.
    pub name: String,
    /// Column names, unique.
    pub columns: Vec<String>,
    /// Rows, each with one cell per column.
    pub rows: Vec<Vec<Cell>>,
}

impl Table {
    /// An empty table with `columns`.
    pub fn new(name: &str, columns: impl IntoIterator<Item = impl Into<String>>) -> Table {
        Table { name: name.to_string(), columns: columns.into_iter().map(Into::into).collect(), rows: Vec::new() }
    }

    /// Appends a row; it must have one cell per column.
    pub fn push(&mut self, row: Vec<Cell>) {
        debug_assert_eq!(row.len(), self.columns.len(), "table {}", self.name);
        self.rows.push(row);
    }

    /// The index of column `name`.
    pub fn col(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c == name)
    }

    /// The finite number in column `c` of `row`.
    pub fn num(row: &[Cell], c: Option<usize>) -> Option<f64> {
        c.and_then(|c| row.get(c)).and_then(Cell::number)
    }

    /// The CSV text: a header line, then one line per row (cells hold no comma: names are plain words).
    pub fn csv(&self) -> String {
        let mut s = self.columns.join(",");
        s.push('\n');
        for r in &self.rows {
            s.push_str(&r.iter().map(Cell::csv).collect::<Vec<_>>().join(","));
            s.push('\n');
        }
        s
    }

    /// The Parquet bytes of the typed twin.
    pub fn parquet(&self) -> Result<Vec<u8>> {
        let err =
            |e: polars::error::PolarsError| ReportError::Table { table: self.name.clone(), detail: e.to_string() };
        let columns: Vec<Column> = self
            .columns
            .iter()
            .enumerate()
            .map(|(c, name)| {
                let cells: Vec<&Cell> = self.rows.iter().map(|r| &r[c]).collect();
                let present = || cells.iter().filter(|x| !matches!(x, Cell::Empty));
                if present().next().is_some() && present().all(|x| matches!(x, Cell::Int(_))) {
                    let v: Vec<Option<i64>> =
                        cells.iter().map(|x| if let Cell::Int(i) = x { Some(*i) } else { None }).collect();
                    Column::new(name.into(), v)
                } else if present().all(|x| matches!(x, Cell::Int(_) | Cell::Num { .. })) {
                    let v: Vec<Option<f64>> = cells
                        .iter()
                        .map(|x| match x {
                            Cell::Int(i) => Some(*i as f64),
                            Cell::Num { value, .. } => Some(*value),
                            _ => None,
                        })
                        .collect();
                    Column::new(name.into(), v)
                } else {
                    let v: Vec<Option<String>> =
                        cells.iter().map(|x| (!matches!(x, Cell::Empty)).then(|| x.csv())).collect();
                    Column::new(name.into(), v)
                }
            })
            .collect();
        let mut df = DataFrame::new(self.rows.len(), columns).map_err(err)?;
        let mut bytes = Vec::new();
        ParquetWriter::new(&mut bytes).finish(&mut df).map_err(err)?;
        Ok(bytes)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use polars::prelude::{AnyValue, DataType, ParquetReader, SerReader};

    #[test]
    fn csv_and_parquet_hold_the_same_rows() {
        let mut t = Table::new("t", ["dataset", "k", "acc", "note"]);
        t.push(vec![Cell::text("d1"), Cell::count(0), Cell::fixed(Some(0.123456), 3), Cell::Empty]);
        t.push(vec![Cell::text("d1"), Cell::count(7), Cell::shortest(f64::NAN), Cell::text("x")]);
        assert_eq!(t.csv(), "dataset,k,acc,note\nd1,0,0.123,\nd1,7,NaN,x\n");
        assert_eq!(Table::num(&t.rows[0], t.col("acc")), Some(0.123), "the rounded value, as the CSV shows it");
        assert_eq!(Table::num(&t.rows[1], t.col("acc")), None, "NaN is no number to draw");
        let df = ParquetReader::new(std::io::Cursor::new(t.parquet().unwrap())).finish().unwrap();
        assert_eq!(df.column("k").unwrap().dtype(), &DataType::Int64);
        assert_eq!(df.column("acc").unwrap().dtype(), &DataType::Float64);
        assert_eq!(df.column("note").unwrap().dtype(), &DataType::String);
        assert_eq!(df.column("acc").unwrap().get(0).unwrap(), AnyValue::Float64(0.123));
        assert_eq!(df.column("note").unwrap().get(0).unwrap(), AnyValue::Null);
    }
}
