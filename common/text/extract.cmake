# Extraction of new content (email / HTML / call / chat). Included by CMakeLists.txt when
# extract.cc exists.

autostage_library(autostage_extract
  SOURCES extract.cc html_to_text.cc internal/email_body.cc internal/email_machine.cc
          internal/email_util.cc
  DEPS autostage_text autostage_proto absl::strings)

# These two run linear-time checks on 100,000-tag and 1 MiB inputs (< 1 s, a few s under
# ASan): the timeout is what fails a quadratic regression, not a clock in the test.
autostage_test(html_to_text_test
  SOURCES html_to_text_test.cc
  DEPS autostage_extract
  TIMEOUT 120)

autostage_test(email_body_test
  SOURCES internal/email_body_test.cc
  DEPS autostage_extract
  TIMEOUT 120)

autostage_test(extract_test
  SOURCES extract_test.cc
  DEPS autostage_extract)

autostage_test(extract_corpus_test
  SOURCES extract_corpus_test.cc
  DEPS autostage_extract protobuf::libprotobuf)

autostage_fuzzer(fuzz_html_to_text
  SOURCES fuzz_html_to_text.cc
  DEPS autostage_extract
  SEEDS fuzz_corpus_html)

autostage_fuzzer(fuzz_email_extract
  SOURCES fuzz_email_extract.cc
  DEPS autostage_extract
  SEEDS fuzz_corpus_extract)

autostage_benchmark(extract_benchmark
  SOURCES extract_benchmark.cc
  DEPS autostage_extract)
