//! Splits a JSON array arriving in chunks into the raw text of its elements, without ever
//! holding more than one element in memory. Content blobs can be hundreds of megabytes; a
//! collector that parses them whole runs out of memory (the best-known collectors do).
//!
//! The splitter tracks only strings, escapes and nesting depth; each element's text is then
//! parsed on its own by normalization, so a malformed record is isolated to itself.

/// Why a body is not a well-formed JSON array.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SplitError {
    #[error("the body is not a JSON array")]
    NotAnArray,
    #[error("the body ended before the array was closed (truncated)")]
    Truncated,
    #[error("unexpected data after the array")]
    TrailingData,
    #[error("a record is larger than {0} bytes")]
    RecordTooLarge(usize),
    #[error("a record is not valid UTF-8")]
    NotUtf8,
}

/// Incremental splitter of a top-level JSON array.
pub struct ArraySplitter {
    state: State,
    depth: u32,
    in_string: bool,
    escaped: bool,
    current: Vec<u8>,
    max_record: usize,
}

/// Where the splitter is relative to the top-level array.
#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    Before,
    Inside,
    After,
}

impl ArraySplitter {
    /// A splitter that refuses records larger than `max_record` bytes.
    pub fn new(max_record: usize) -> Self {
        Self { state: State::Before, depth: 0, in_string: false, escaped: false, current: Vec::new(), max_record }
    }

    /// Feeds the next chunk; complete elements are appended to `out`.
    pub fn push(&mut self, chunk: &[u8], out: &mut Vec<String>) -> Result<(), SplitError> {
        for &b in chunk {
            match self.state {
                State::Before => match b {
                    b'[' => self.state = State::Inside,
                    b' ' | b'\t' | b'\r' | b'\n' | 0xEF | 0xBB | 0xBF => {}
                    _ => return Err(SplitError::NotAnArray),
                },
                State::After => {
                    if !b.is_ascii_whitespace() {
                        return Err(SplitError::TrailingData);
                    }
                }
                State::Inside => {
                    if self.in_string {
                        self.current.push(b);
                        if self.escaped {
                            self.escaped = false;
                        } else if b == b'\\' {
                            self.escaped = true;
                        } else if b == b'"' {
                            self.in_string = false;
                        }
                    } else {
                        match b {
                            b'"' => {
                                self.in_string = true;
                                self.current.push(b);
                            }
                            b'{' | b'[' => {
                                self.depth += 1;
                                self.current.push(b);
                            }
                            b'}' | b']' if self.depth > 0 => {
                                self.depth -= 1;
                                self.current.push(b);
                            }
                            b']' => {
                                self.emit(out)?;
                                self.state = State::After;
                            }
                            b',' if self.depth == 0 => self.emit(out)?,
                            b' ' | b'\t' | b'\r' | b'\n' if self.depth == 0 => {}
                            _ => self.current.push(b),
                        }
                    }
                    if self.current.len() > self.max_record {
                        return Err(SplitError::RecordTooLarge(self.max_record));
                    }
                }
            }
        }
        Ok(())
    }

    /// Checks that the array was closed.
    pub fn finish(&self) -> Result<(), SplitError> {
        match self.state {
            State::After => Ok(()),
            State::Before => Err(SplitError::NotAnArray),
            State::Inside => Err(SplitError::Truncated),
        }
    }

    fn emit(&mut self, out: &mut Vec<String>) -> Result<(), SplitError> {
        if self.current.is_empty() {
            // `[]`, or a stray comma: nothing to emit.
            return Ok(());
        }
        let bytes = std::mem::take(&mut self.current);
        let text = String::from_utf8(bytes).map_err(|_| SplitError::NotUtf8)?;
        out.push(text);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split_in_chunks(body: &str, chunk: usize) -> Result<Vec<String>, SplitError> {
        let mut s = ArraySplitter::new(1 << 20);
        let mut out = Vec::new();
        for c in body.as_bytes().chunks(chunk.max(1)) {
            s.push(c, &mut out)?;
        }
        s.finish()?;
        Ok(out)
    }

    #[test]
    fn elements_come_out_exactly_as_written_whatever_the_chunking() {
        let body = r#" [ {"Id":"a","X":[1,2,{"y":"]},"}]}, {"Id":"b\"\\","Z":"[{"} ,3,"s"] "#;
        for chunk in [1, 2, 3, 7, 1000] {
            let out = split_in_chunks(body, chunk).unwrap();
            assert_eq!(
                out,
                vec![r#"{"Id":"a","X":[1,2,{"y":"]},"}]}"#, r#"{"Id":"b\"\\","Z":"[{"}"#, "3", "\"s\""],
                "chunk {chunk}"
            );
        }
    }

    #[test]
    fn an_empty_array_has_no_elements() {
        assert_eq!(split_in_chunks("[]", 1).unwrap(), Vec::<String>::new());
        assert_eq!(split_in_chunks("\u{feff}[ ]\n", 1).unwrap(), Vec::<String>::new());
    }

    #[test]
    fn truncated_and_foreign_bodies_are_errors() {
        assert_eq!(split_in_chunks(r#"[{"Id":"a"},{"Id":"#, 4), Err(SplitError::Truncated));
        assert_eq!(split_in_chunks("<html>", 4), Err(SplitError::NotAnArray));
        assert_eq!(split_in_chunks(r#"{"error":{}}"#, 4), Err(SplitError::NotAnArray));
        assert_eq!(split_in_chunks("[] x", 4), Err(SplitError::TrailingData));
    }

    #[test]
    fn oversized_records_are_refused() {
        let mut s = ArraySplitter::new(10);
        let mut out = Vec::new();
        assert_eq!(s.push(br#"[{"Id":"0123456789"}]"#, &mut out), Err(SplitError::RecordTooLarge(10)));
    }
}
