//! Incident roles beyond the commander (DESIGN.md "People"): `[roles] names`, filled with
//! `/incident role <role> @user` or in the declare modal, listed with `/incident roles`, shown
//! in the declaration, the status update and the report; a severity's `roles_required` left
//! unfilled are reminded. The commander is one of the roles and keeps its own path
//! (`incident::lifecycle::change_commander`, `[permissions] change_commander`); the others need
//! `[permissions] assign_roles`.
//!
//! Who holds what is read with `crate::incident::roles::current` (the storage, below the
//! parts); this module is what roles mean for Slack: [`assign`] (the post, the invitation),
//! [`command`], [`modal`], [`remind`] (the unfilled-role timers) and its reactor ([`react`], one
//! line in `crate::reactions`).

pub mod assign;
pub mod command;
pub mod modal;
mod react;
pub mod remind;

pub use react::Reactor;
