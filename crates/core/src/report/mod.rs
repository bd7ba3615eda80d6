//! The communication section of a CPTS's activity report, pure: what went
//! out in a period (the deliveries the store records as sent) and how it
//! was received (the engagement each network reported, as last read), in
//! one vocabulary across networks, with the previous period of the same
//! length beside it.
//!
//! [`build`] aggregates; [`text`], [`csv`] and [`html`] say the result in
//! French. `crieur-io` reads the store and the networks and hands the
//! values in; nothing here knows where they came from. A figure a network
//! did not report stays `None` all the way to an empty cell: no zero is
//! ever invented.

mod html;
mod model;
mod text;

pub use html::{Thumbnail, html};
pub use model::{
    ChannelRow, Engagement, Figures, Input, MonthRow, Period, PeriodOut, PostInfo, PostRow,
    Previous, Report, SeriesRow, Totals, build,
};
pub use text::{csv, date, instant_words, month_name, number, sentence, text};

#[cfg(test)]
mod tests;
