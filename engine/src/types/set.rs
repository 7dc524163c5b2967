//! TEMPORARY stub of the set type; the data-types issue fills it in.

#[derive(Clone, Default, Debug)]
pub struct Set {
    len: usize,
}

impl Set {
    pub fn len(&self) -> usize {
        self.len
    }
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    pub fn encoding_name(&self) -> &'static str {
        "stub"
    }
    pub fn allocated_bytes(&self) -> usize {
        0
    }
}
