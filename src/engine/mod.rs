//! Local load engine.
