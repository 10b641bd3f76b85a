//! Every library crate is reachable through the facade under its short name.

#[test]
fn the_facade_reexports_every_library_crate() {
    assert_eq!(doppel::protocol::Role::ALL.len(), 3);
    assert_eq!(doppel::stdx::shell_quote("a b"), "'a b'");
    assert_eq!(doppel::report::mean_std_sample(&[Some(1.0), Some(3.0)]).0, Some(2.0));
    assert_eq!(doppel::unlearn::MethodName::parse("salun"), Some(doppel::protocol::Method::Salun));
    assert_eq!(doppel::models::Role::parse("m0"), Some(doppel::protocol::Role::M0));
    let _ = std::any::type_name::<doppel::attack::AttackError>();
    let _ = std::any::type_name::<doppel::text::TextError>();
    let _ = std::any::type_name::<doppel::data::DataError>();
    let _ = std::any::type_name::<doppel::mine::MineError>();
    let _ = std::any::type_name::<doppel::eval::EvalError>();
}
