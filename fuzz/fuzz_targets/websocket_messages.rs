#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| lambda_relay::internal::fuzzing::websocket_messages(data));
