#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| lambda_relay::internal::fuzzing::gateway_session(data));
