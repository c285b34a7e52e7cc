"""The board flow's Vivado TCL (build.tcl: block design, synthesis, implementation, bitstream;
package_rtl.tcl: the RTL backend's IP). A package only so the TCL ships inside accel as
accel.vivado; accel.flow.vivado copies these scripts into a build folder beside a generated
params.tcl."""
