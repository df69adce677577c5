from lti_tool.cli import main

main()
