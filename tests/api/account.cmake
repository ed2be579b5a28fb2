# Account flows over a real SMTP server (tests/api/smtp_sink.py on python3-aiosmtpd) and
# trusted servers.  Both load the authkit (users) and accountkit (inspection) test plugins.
sensed_api_test(test_account ${CMAKE_CURRENT_LIST_DIR}/test_account.c)
add_dependencies(test_account account authkit accountkit)
sensed_api_test(test_server_access ${CMAKE_CURRENT_LIST_DIR}/test_server_access.c)
add_dependencies(test_server_access server_access accountkit authkit)
